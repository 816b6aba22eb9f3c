/**
 * `stream=true` on /v1/audio/transcriptions: the official `openai` client, through the nginx gateway,
 * receives `transcript.text.delta` events in order while the job runs, and their concatenation is the
 * `transcript.text.done` text and the job's stored text. A client that disconnects cancels the job
 * and its reservation is released; formats without a delta form are refused with param `stream`.
 */
import { execFileSync } from 'node:child_process';
import * as fs from 'node:fs';
import * as os from 'node:os';
import * as path from 'node:path';
import OpenAI from 'openai';
import type { TranscriptionStreamEvent } from 'openai/resources/audio/transcriptions';
import { startTestApp, type TestApp } from '../helpers/harness';
import { startGateway, type TestGateway } from '../helpers/nginx';
import { normalise, wer } from '../helpers/wer';

const AUDIO = path.resolve(__dirname, '../../../shared/audio');
const JFK = path.join(AUDIO, 'jfk.wav');
const JFK_REFERENCE =
  'And so my fellow Americans, ask not what your country can do for you, ask what you can do for your country.';

let app: TestApp;
let gw: TestGateway;
let tmp: string;
let long: string;
let userId: string;
let apiKey: string;

beforeAll(async () => {
  app = await startTestApp();
  ({ userId, apiKey } = await app.user('premium'));
  gw = await startGateway({ apis: [new URL(app.url).host] });
  tmp = fs.mkdtempSync(path.join(os.tmpdir(), 'fs-oai-stream-'));
  // jfk ten times (110 s): at least four chunks, so deltas arrive while a later chunk still runs. A chunk's
  // deltas wait for its neighbours to be stored (audio/transcript.ts finalPrefixSegments; SSE events in
  // activities/chunk-results.ts segmentEventsOnStore). The chunks run concurrently, so with two or three of
  // them the first chunk's neighbour can be the last to finish, and the first delta then reaches the client at
  // about the job's completion: CI saw 125 ms after it with jfk x4, and 127 ms with jfk x6.
  long = path.join(tmp, 'jfk10.wav');
  execFileSync('ffmpeg', ['-v', 'error', '-y', '-stream_loop', '9', '-i', JFK, '-c:a', 'pcm_s16le', long]);
}, 120_000);

afterAll(async () => {
  await gw?.stop();
  await app?.stop();
  if (tmp) fs.rmSync(tmp, { recursive: true, force: true });
}, 60_000);

test('the official client streams deltas through the gateway in order; their concatenation is the final text', async () => {
  const client = new OpenAI({ apiKey, baseURL: `${gw.url}/v1`, maxRetries: 0 });
  const stream = await client.audio.transcriptions.create({
    file: fs.createReadStream(long),
    model: 'whisper-1',
    stream: true,
  });
  const events: { at: number; e: TranscriptionStreamEvent }[] = [];
  for await (const e of stream) events.push({ at: Date.now(), e });

  const deltas = events.filter((x) => x.e.type === 'transcript.text.delta');
  const done = events[events.length - 1].e;
  expect(done.type).toBe('transcript.text.done');
  expect(events.filter((x) => x.e.type === 'transcript.text.done')).toHaveLength(1);
  expect(deltas.length).toBeGreaterThan(1);
  const joined = deltas.map((x) => (x.e as { delta: string }).delta).join('');
  const text = (done as { text: string }).text;
  expect(joined).toBe(text);
  expect(done).not.toHaveProperty('usage');

  // The job behind it: one per segment, in order, and the stored text is the same.
  const { rows } = await app.pool.query(`SELECT id, text, segments, completed_at FROM jobs WHERE user_id = $1 ORDER BY created_at DESC LIMIT 1`, [userId]);
  const job = rows[0];
  expect(job.text).toBe(text);
  expect(deltas.map((x) => (x.e as { delta: string }).delta.trim())).toEqual(job.segments.map((s: { text: string }) => s.text.trim()));
  // It is the speech. Accuracy is not this test's subject: on this loop cut inside words one clean-clone
  // CI run measured WER 0.42 (others ≤ 0.35), which issue #17's long-form evaluation follows up; here it
  // is enough that the stream carries jfk's sentence, whole, at least once.
  expect(normalise(text).join(' ')).toContain('ask not what your country can do for you');
  // Sent while the job ran, and passed through the gateway at once: the first delta reached the client
  // before the job was completed.
  expect(deltas[0].at).toBeLessThan(new Date(job.completed_at).getTime());
}, 180_000);

test('the raw stream: text/event-stream, X-Accel-Buffering: no, data-only events', async () => {
  const form = new FormData();
  form.append('file', new Blob([fs.readFileSync(JFK)]), 'jfk.wav');
  form.append('model', 'whisper-1');
  form.append('response_format', 'text');
  form.append('stream', 'true');
  const res = await fetch(`${app.url}/v1/audio/transcriptions`, { method: 'POST', body: form, headers: { authorization: `Bearer ${apiKey}` } });
  expect(res.status).toBe(200);
  expect(res.headers.get('content-type')).toMatch(/^text\/event-stream/);
  expect(res.headers.get('x-accel-buffering')).toBe('no');
  const body = await res.text();
  const data = body
    .split('\n\n')
    .filter((b) => b.startsWith('data: '))
    .map((b) => JSON.parse(b.slice(6)));
  expect(data[data.length - 1]).toEqual({ type: 'transcript.text.done', text: expect.any(String) });
  for (const d of data.slice(0, -1)) expect(Object.keys(d).sort()).toEqual(['delta', 'type']);
  expect(wer(JFK_REFERENCE, data[data.length - 1].text)).toBeLessThanOrEqual(0.1);
}, 120_000);

test('stream=true with srt, vtt or verbose_json → 400 with param "stream"', async () => {
  const client = new OpenAI({ apiKey, baseURL: `${app.url}/v1`, maxRetries: 0 });
  for (const response_format of ['srt', 'vtt', 'verbose_json'] as const) {
    await expect(
      client.audio.transcriptions.create({ file: fs.createReadStream(JFK), model: 'whisper-1', response_format, stream: true } as never),
    ).rejects.toMatchObject({ status: 400, error: { type: 'invalid_request_error', code: 'invalid_request', param: 'stream' } });
  }
}, 60_000);

test('a client that disconnects cancels the job and releases its reservation', async () => {
  const { userId: u, apiKey: k } = await app.user('standard');
  const form = new FormData();
  form.append('file', new Blob([fs.readFileSync(long)]), 'jfk10.wav');
  form.append('model', 'whisper-1');
  form.append('stream', 'true');
  const abort = new AbortController();
  const res = await fetch(`${app.url}/v1/audio/transcriptions`, {
    method: 'POST',
    body: form,
    headers: { authorization: `Bearer ${k}` },
    signal: abort.signal,
  });
  expect(res.status).toBe(200);
  abort.abort();
  const { rows } = await app.pool.query('SELECT id FROM jobs WHERE user_id = $1', [u]);
  expect(rows).toHaveLength(1);
  const jobId = rows[0].id;
  const deadline = Date.now() + 60_000;
  let status = '';
  while (Date.now() < deadline) {
    status = (await app.pool.query('SELECT status FROM jobs WHERE id = $1', [jobId])).rows[0].status;
    if (status === 'cancelled') break;
    await new Promise((r) => setTimeout(r, 200));
  }
  expect(status).toBe('cancelled');
  const ledger = await app.pool.query('SELECT kind, seconds FROM usage_ledger WHERE job_id = $1 ORDER BY kind', [jobId]);
  // Reserved, then refunded in full (charge 0 or none): nothing of the user's quota stays taken.
  const by = Object.fromEntries(ledger.rows.map((r) => [r.kind, r.seconds]));
  expect(by.reserve).toBeGreaterThan(0);
  expect(by.charge ?? 0).toBe(0);
  expect(by.refund).toBe(by.reserve);
  // Redis agrees: the slot is free again.
  const day = new Date().toISOString().slice(0, 10);
  expect((await app.deps.quota.counters(u, day)).activeJobs).toBe(0);
  expect(fs.existsSync(path.join(app.config.blobDir, jobId))).toBe(false);
}, 120_000);
