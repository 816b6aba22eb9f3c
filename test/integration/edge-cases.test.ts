/**
 * Inputs at the edges that must succeed (0.1 s of audio, an hour of silence, a name of only non-ASCII
 * characters) and OpenAI-route fields out of range, answered in OpenAI's error shape with nothing left behind.
 */
import * as fs from 'node:fs';
import * as os from 'node:os';
import * as path from 'node:path';
import { execFileSync } from 'node:child_process';
import { startTestApp, submitFile, waitForJob, type TestApp } from '../helpers/harness';

const AUDIO = path.resolve(__dirname, '../../../shared/audio');

let app: TestApp;
let tmp: string;
let premium: { userId: string; apiKey: string };

beforeAll(async () => {
  tmp = fs.mkdtempSync(path.join(os.tmpdir(), 'fs-edge-'));
  // 0.1 s cut from the speech itself, and an hour of digital silence as FLAC (compresses to almost nothing).
  execFileSync('ffmpeg', ['-v', 'error', '-y', '-ss', '1', '-t', '0.1', '-i', path.join(AUDIO, 'jfk.wav'), path.join(tmp, 'tenth.wav')]);
  execFileSync('ffmpeg', ['-v', 'error', '-y', '-f', 'lavfi', '-i', 'anullsrc=r=16000:cl=mono', '-t', '3600', '-c:a', 'flac', path.join(tmp, 'hour-of-silence.flac')]);
  execFileSync('ffmpeg', ['-v', 'error', '-y', '-i', path.join(AUDIO, 'jfk.wav'), '-b:a', '32k', path.join(tmp, 'jfk.mp3')]);
  app = await startTestApp();
  premium = await app.user('premium');
}, 120_000);

afterAll(async () => {
  await app?.stop();
  if (tmp) fs.rmSync(tmp, { recursive: true, force: true });
}, 60_000);

async function completes(file: string | { name: string; data: Uint8Array }, timeoutMs = 120_000) {
  const res = await submitFile(app.url, premium.apiKey, file);
  expect(res.status).toBe(202);
  const job = await waitForJob(app.url, premium.apiKey, ((await res.json()) as { id: string }).id, timeoutMs);
  expect({ status: job.status, error: job.error }).toEqual({ status: 'completed', error: undefined });
  return job;
}

test('0.1 s of audio completes (empty or short text)', async () => {
  const job = await completes(path.join(tmp, 'tenth.wav'));
  expect(job.audioSeconds).toBeCloseTo(0.1, 1);
  expect(job.text.split(/\s+/).filter(Boolean).length).toBeLessThanOrEqual(3);
  expect(job.billedSeconds).toBeLessThanOrEqual(1);
}, 120_000);

test('an hour of silence on /v1/jobs (premium) completes with empty text and 0 billed seconds', async () => {
  const size = fs.statSync(path.join(tmp, 'hour-of-silence.flac')).size;
  expect(size).toBeLessThan(2_000_000); // a small upload for an hour of audio
  const job = await completes(path.join(tmp, 'hour-of-silence.flac'), 300_000);
  expect(job).toMatchObject({ text: '', segments: [], billedSeconds: 0 });
  expect(job.audioSeconds).toBeCloseTo(3600, 0);
  // The hour was reserved at admission and released in full.
  const { rows } = await app.pool.query(
    `SELECT kind, seconds FROM usage_ledger WHERE job_id = $1 ORDER BY kind`,
    [job.id],
  );
  const by = Object.fromEntries(rows.map((r) => [r.kind, Number(r.seconds)]));
  expect(by.reserve).toBe(3600);
  expect(by.charge ?? 0).toBe(0);
  expect(by.refund).toBe(3600);
}, 300_000);

test('a file whose name is only non-ASCII characters succeeds', async () => {
  const job = await completes({ name: '録音テープ', data: fs.readFileSync(path.join(tmp, 'jfk.mp3')) });
  expect(job.text).toMatch(/fellow Americans/i);
  const { rows } = await app.pool.query('SELECT filename FROM jobs WHERE id = $1', [job.id]);
  expect(rows[0].filename).toBe('録音テープ');
}, 120_000);

test.each([
  ['temperature above 1', { temperature: '1.5' }],
  ['negative temperature', { temperature: '-0.1' }],
  ['temperature not a number', { temperature: 'warm' }],
  ['unknown response_format', { response_format: 'docx' }],
])('OpenAI route: %s → 400 invalid_request in OpenAI’s shape, no job', async (_name, fields) => {
  const form = new FormData();
  form.append('model', 'whisper-1');
  for (const [k, v] of Object.entries(fields)) form.append(k, v);
  form.append('file', new Blob([fs.readFileSync(path.join(tmp, 'jfk.mp3'))]), 'jfk.mp3');
  const before = (await app.pool.query('SELECT count(*)::int AS n FROM jobs')).rows[0].n;
  const res = await fetch(`${app.url}/v1/audio/transcriptions`, { method: 'POST', body: form, headers: { authorization: `Bearer ${premium.apiKey}` } });
  expect(res.status).toBe(400);
  const body = (await res.json()) as any;
  // OpenAI's `param` names the offending field, as the official API does.
  const field = Object.keys(fields)[0];
  expect(body).toEqual({ error: { message: expect.stringMatching(new RegExp(field)), type: 'invalid_request_error', code: 'invalid_request', param: field } });
  expect((await app.pool.query('SELECT count(*)::int AS n FROM jobs')).rows[0].n).toBe(before);
});
