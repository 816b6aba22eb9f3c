/**
 * The official `openai` client retries 408, 409, 429 and 5xx answers (maxRetries 2, re-sending the whole upload)
 * and ignores a Retry-After over 60 s, retrying after ~1 s instead; it obeys `x-should-retry` (openai-node
 * client.ts shouldRetry). Answers a retry cannot change say `x-should-retry: false`: the day's quota spent
 * (Retry-After: until UTC midnight) and a job's final outcome (a retry within 5 minutes is the same job,
 * api/routes/openai.ts). Those it can change keep the client's retries (concurrency_limit, Retry-After 30 s).
 */
import express from 'express';
import type { Server } from 'node:http';
import OpenAI from 'openai';
import { ApiError, errorHandler } from '../../api/errors';
import { contentLinkAnswers, jobOutcomeError } from '../../api/routes/openai';
import { createLogger } from '../../common/log';
import type { JobRow } from '../../api/job-json';
import { listenOnLoopback } from '../helpers/listen';

let server: Server;
let base: string;
let answer: () => never;
let calls = 0;

beforeAll(async () => {
  const app = express();
  app.post('/v1/audio/transcriptions', (req) => {
    calls++;
    req.resume();
    answer();
  });
  app.use(errorHandler(createLogger({ component: 'test' })));
  ({ server, base } = await listenOnLoopback(app));
  base += '/v1';
});

afterAll(async () => {
  await new Promise((r) => server.close(r));
});

async function transcribe(): Promise<{ calls: number; err: any }> {
  calls = 0;
  const client = new OpenAI({ apiKey: 'fsk_x_y', baseURL: base, maxRetries: 2 });
  try {
    await client.audio.transcriptions.create({ file: new File([Buffer.alloc(1000)], 'a.wav'), model: 'whisper-1' });
    return { calls, err: null };
  } catch (err) {
    return { calls, err };
  }
}

test('quota_exceeded (Retry-After until midnight): one request, not three uploads', async () => {
  answer = () => {
    throw new ApiError(429, 'quota_exceeded', 'this file would exceed your daily audio quota', { limit: 1800, used: 1790 }, { 'Retry-After': '76000' });
  };
  const r = await transcribe();
  expect(r.err?.status).toBe(429);
  expect(r.err?.code).toBe('quota_exceeded');
  expect(r.calls).toBe(1);
});

test('concurrency_limit (a slot frees soon): the client still retries', async () => {
  answer = () => {
    throw new ApiError(429, 'concurrency_limit', 'you already have 1 job(s) running', { limit: 1, used: 1 }, { 'Retry-After': '0' });
  };
  const r = await transcribe();
  expect(r.err?.status).toBe(429);
  expect(r.calls).toBe(3);
});

test.each([
  ['cancelled', { status: 'cancelled', error_code: null, error_message: null }, 409],
  ['failed', { status: 'failed', error_code: 'internal', error_message: 'the transcription failed' }, 500],
])("a job's final outcome (%s) is answered once: a retry would get the same job", async (_name, job, status) => {
  answer = () => {
    throw jobOutcomeError(job as unknown as JobRow);
  };
  const r = await transcribe();
  expect(r.err?.status).toBe(status);
  expect(r.calls).toBe(1);
});

test('a failure of ours (5xx) without an Idempotency-Key: its link is given back, so the client may retry into a new job', async () => {
  const job = { status: 'failed', error_code: 'inference_failed', error_message: 'inference failed: the model could not run on this worker' };
  answer = () => {
    throw jobOutcomeError(job as unknown as JobRow, { retryRunsAgain: true });
  };
  const r = await transcribe();
  expect(r.err?.status).toBe(500);
  expect(r.err?.code).toBe('inference_failed');
  expect(r.calls).toBe(3);
});

test.each([
  ['running', { status: 'running', error_code: null }, true],
  ['completed', { status: 'completed', error_code: null }, true],
  ['not found yet (still admitting)', null, true],
  ['cancelled (409)', { status: 'cancelled', error_code: null }, true],
  ['unsupported_audio (422: the same audio fails the same way)', { status: 'failed', error_code: 'unsupported_audio' }, true],
  ['inference_failed (500, transient)', { status: 'failed', error_code: 'inference_failed' }, false],
  ['internal (500)', { status: 'failed', error_code: 'internal' }, false],
])('a same-content link to a job that is %s answers with it: %s', (_name, job, answers) => {
  expect(contentLinkAnswers(job as never)).toBe(answers);
});
