/**
 * A failure of ours on the synchronous OpenAI route is not repeated by the same-content link: after a job ends in
 * `inference_failed` (a 500), a retry without an Idempotency-Key runs a new job (and the answer leaves the official
 * client its retries); with an Idempotency-Key the retry is the same job and the same answer (`x-should-retry: false`).
 * The worker's model is unloadable (an empty encoder), so every job fails in transcribeChunk after its retries.
 */
import * as fs from 'node:fs';
import * as os from 'node:os';
import * as path from 'node:path';
import { startTestApp, type TestApp } from '../helpers/harness';
import { brokenModelsDir } from '../helpers/models';

const JFK = path.resolve(__dirname, '../../../shared/audio/jfk.wav');

let tmp: string;
let app: TestApp;

beforeAll(async () => {
  tmp = fs.mkdtempSync(path.join(os.tmpdir(), 'fs-openai-retry-'));
  app = await startTestApp({ WHISPER_MODELS_DIR: brokenModelsDir(tmp) }, { preload: [] });
}, 120_000);

afterAll(async () => {
  await app?.stop();
  if (tmp) fs.rmSync(tmp, { recursive: true, force: true });
}, 60_000);

async function transcribe(apiKey: string, headers: Record<string, string> = {}) {
  const form = new FormData();
  form.append('model', 'whisper-tiny.en');
  form.append('file', new Blob([fs.readFileSync(JFK)]), 'jfk.wav');
  const res = await fetch(`${app.url}/v1/audio/transcriptions`, {
    method: 'POST',
    headers: { authorization: `Bearer ${apiKey}`, ...headers },
    body: form,
  });
  return { status: res.status, shouldRetry: res.headers.get('x-should-retry'), body: (await res.json()) as { error: { code: string } } };
}

const jobsOf = async (userId: string) =>
  (await app.pool.query('SELECT id, status, error_code FROM jobs WHERE user_id = $1 ORDER BY created_at', [userId])).rows;

test('after inference_failed, a retry of the same file runs a new job; the client may retry', async () => {
  const { userId, apiKey } = await app.user('premium');
  const first = await transcribe(apiKey);
  expect(first).toMatchObject({ status: 500, body: { error: { code: 'inference_failed' } } });
  expect(first.shouldRetry).toBeNull();
  const again = await transcribe(apiKey);
  expect(again).toMatchObject({ status: 500, body: { error: { code: 'inference_failed' } } });
  const jobs = await jobsOf(userId);
  expect(jobs).toHaveLength(2);
  for (const j of jobs) expect(j).toMatchObject({ status: 'failed', error_code: 'inference_failed' });
}, 240_000);

test('with an Idempotency-Key the retry is the same job and the same answer', async () => {
  const { userId, apiKey } = await app.user('premium');
  const first = await transcribe(apiKey, { 'Idempotency-Key': 'k-1' });
  expect(first).toMatchObject({ status: 500, shouldRetry: 'false', body: { error: { code: 'inference_failed' } } });
  const again = await transcribe(apiKey, { 'Idempotency-Key': 'k-1' });
  expect(again).toMatchObject({ status: 500, shouldRetry: 'false', body: { error: { code: 'inference_failed' } } });
  expect(await jobsOf(userId)).toHaveLength(1);
}, 240_000);
