/** Refusals of the jobs module and their HTTP mapping (api/errors.ts): status by code, Retry-After, OpenAI's param. */
import express from 'express';
import type { Server } from 'node:http';
import { ApiError, errorHandler, refusalError } from '../../api/errors';
import type { JobRow } from '../../api/job-json';
import { refusalToSession } from '../../api/listen';
import { jobOutcomeError } from '../../api/routes/openai';
import { createLogger } from '../../common/log';
import { admitOrRefuse } from '../../jobs/admission';
import {
  CONCURRENCY_RETRY_AFTER_S,
  concurrencyRefusal,
  JobRefusal,
  quotaExceededRefusal,
  quotaUnavailable,
  refusal,
  refuse,
  UNAVAILABLE_RETRY_AFTER_S,
} from '../../jobs/refusal';
import { DEFAULT_TIERS } from '../../common/tiers';
import { listenOnLoopback } from '../helpers/listen';

describe('refusals', () => {
  test('an audio refusal is about the file, a model refusal about the model, unless told otherwise', () => {
    expect(refusal('unsupported_audio', 'x').field).toBe('file');
    expect(refusal('audio_too_long', 'x').field).toBe('file');
    expect(refusal('model_not_allowed', 'x').field).toBe('model');
    expect(refusal('invalid_request', 'x').field).toBeUndefined();
    expect(refusal('invalid_request', 'x', { field: 'model' }).field).toBe('model');
  });

  test('quota_exceeded carries the numbers and a Retry-After up to the reset', () => {
    const now = Date.parse('2026-12-06T23:59:00Z');
    const r = quotaExceededRefusal(50, DEFAULT_TIERS.free, new Date('2026-12-07T00:00:00Z'), now);
    expect(r).toMatchObject({ code: 'quota_exceeded', details: { limit: DEFAULT_TIERS.free.dailySeconds, used: 50, resetAt: '2026-12-07T00:00:00.000Z' }, retryAfterSeconds: 60 });
  });

  test('admitOrRefuse turns a thrown refusal into a value and lets other errors through', async () => {
    await expect(admitOrRefuse(async () => refuse('no_capacity', 'none'))).resolves.toMatchObject({ ok: false, refusal: { code: 'no_capacity' } });
    await expect(admitOrRefuse(async () => 7)).resolves.toEqual({ ok: true, job: 7 });
    await expect(admitOrRefuse(async () => { throw new Error('db down'); })).rejects.toThrow('db down');
    expect(new JobRefusal(refusal('unavailable', 'm')).message).toBe('m');
  });
});

describe('refusalError (HTTP)', () => {
  test.each([
    ['invalid_request', 400], ['missing_file', 400], ['model_not_allowed', 403], ['not_awaiting_audio', 409], ['audio_too_long', 413],
    ['unsupported_audio', 422], ['edge_not_possible', 422], ['concurrency_limit', 429], ['quota_exceeded', 429],
    ['no_capacity', 503], ['quota_unavailable', 503], ['unavailable', 503],
  ] as const)('%s answers %i', (code, status) => {
    expect(refusalError(refusal(code, 'm')).status).toBe(status);
  });

  test('Retry-After, details and param come from the refusal', () => {
    const e = refusalError(concurrencyRefusal(1, DEFAULT_TIERS.free));
    expect(e.headers).toEqual({ 'Retry-After': '30' });
    expect(e.details).toEqual({ limit: DEFAULT_TIERS.free.concurrentJobs, used: 1, resetAt: null });
    expect(e.param).toBeNull();
    expect(refusalError(refusal('invalid_request', "model 'x' is not installed", { field: 'model' })).param).toBe('model');
  });
});

describe('every 429 and 503 answer carries Retry-After (api/errors.ts errorHandler)', () => {
  let server: Server;
  let base: string;
  let thrown: unknown;

  beforeAll(async () => {
    const app = express();
    app.all('/*path', () => {
      throw thrown;
    });
    app.use(errorHandler(createLogger({ component: 'test' })));
    ({ server, base } = await listenOnLoopback(app));
  });

  afterAll(async () => {
    await new Promise((r) => server.close(r));
  });

  async function answer(path: string, err: unknown) {
    thrown = err;
    const res = await fetch(base + path);
    await res.arrayBuffer();
    return { status: res.status, retryAfter: res.headers.get('retry-after') };
  }

  test('an error built without one gets the default of its status; one that names its own keeps it', async () => {
    expect(await answer('/v1/jobs', new ApiError(503, 'quota_unavailable', 'm'))).toEqual({ status: 503, retryAfter: String(UNAVAILABLE_RETRY_AFTER_S) });
    expect(await answer('/v1/jobs', new ApiError(429, 'rate_limited', 'm'))).toEqual({ status: 429, retryAfter: String(CONCURRENCY_RETRY_AFTER_S) });
    expect(await answer('/v1/jobs', new ApiError(429, 'rate_limited', 'm', {}, { 'Retry-After': '7' }))).toEqual({ status: 429, retryAfter: '7' });
    expect(await answer('/v1/jobs', new ApiError(400, 'invalid_request', 'm'))).toEqual({ status: 400, retryAfter: null });
  });

  test('the OpenAI route answering a job that ended with a 503-class code (jobOutcomeError) says when to retry', async () => {
    const job = { status: 'failed', error_code: 'quota_unavailable', error_message: 'the quota store is unavailable; try again shortly' } as unknown as JobRow;
    expect(await answer('/v1/audio/transcriptions', jobOutcomeError(job))).toEqual({ status: 503, retryAfter: String(UNAVAILABLE_RETRY_AFTER_S) });
  });

  test('a JobRefusal thrown to the handler answers with its own Retry-After', async () => {
    expect(await answer('/v1/jobs', new JobRefusal(quotaUnavailable()))).toEqual({ status: 503, retryAfter: String(UNAVAILABLE_RETRY_AFTER_S) });
  });
});

describe('refusals over the /v1/listen WebSocket (api/listen.ts refusalToSession)', () => {
  test('a refusal that says when to retry carries retryAfterSeconds (no header on a WebSocket); close 1013 for the retryable', () => {
    const unavailable = refusalToSession(quotaUnavailable());
    expect(unavailable.details).toEqual({ retryAfterSeconds: UNAVAILABLE_RETRY_AFTER_S });
    expect(unavailable.closeCode).toBe(1013);
    const busy = refusalToSession(concurrencyRefusal(1, DEFAULT_TIERS.free));
    expect(busy.details).toEqual({ limit: DEFAULT_TIERS.free.concurrentJobs, used: 1, retryAfterSeconds: CONCURRENCY_RETRY_AFTER_S });
    expect(refusalToSession(refusal('model_not_allowed', 'm')).details).toEqual({});
  });
});
