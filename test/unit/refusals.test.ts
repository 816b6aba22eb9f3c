/** Refusals of the jobs module and their HTTP mapping (api/errors.ts): status by code, Retry-After, OpenAI's param. */
import { refusalError } from '../../api/errors';
import { admitOrRefuse } from '../../jobs/admission';
import { concurrencyRefusal, JobRefusal, quotaExceededRefusal, refusal, refuse } from '../../jobs/refusal';
import { DEFAULT_TIERS } from '../../common/tiers';

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
