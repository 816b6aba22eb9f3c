/**
 * Job routes beyond admission: list with cursor pagination and status filter, transcript formats,
 * cancel (API route and the workflow's `cancel` signal) and delete — with quota released and no blobs left.
 */
import * as fs from 'node:fs';
import * as os from 'node:os';
import * as path from 'node:path';
import { execFileSync } from 'node:child_process';
import { Client, Connection } from '@temporalio/client';
import { parseSync } from 'subtitle';
import { workflowIdFor } from '../../common/constants';
import { startTestApp, submitFile, waitForJob, type TestApp } from '../helpers/harness';
import { wer } from '../helpers/wer';

const AUDIO = path.resolve(__dirname, '../../../shared/audio');
const JFK_REFERENCE =
  'And so my fellow Americans, ask not what your country can do for you, ask what you can do for your country.';

let app: TestApp;
let key: string;
let userId: string;
let otherKey: string;
let tmp: string;
let longFile: string;
let connection: Connection;
let temporal: Client;

const auth = (k: string) => ({ authorization: `Bearer ${k}` });
const get = (p: string, k = key) => fetch(`${app.url}${p}`, { headers: auth(k) });

beforeAll(async () => {
  app = await startTestApp();
  ({ apiKey: key, userId } = await app.user('premium'));
  otherKey = (await app.user('premium')).apiKey;
  tmp = fs.mkdtempSync(path.join(os.tmpdir(), 'fs-jobs-'));
  // ~2 minutes of speech: long enough to cancel while it runs
  longFile = path.join(tmp, 'long.wav');
  const jfk = path.join(AUDIO, 'jfk.wav');
  execFileSync('ffmpeg', ['-v', 'error', '-y', '-stream_loop', '10', '-i', jfk, '-c:a', 'pcm_s16le', longFile]);
  connection = await Connection.connect({ address: app.config.temporalAddress });
  temporal = new Client({ connection, namespace: app.config.temporalNamespace });
}, 120_000);

afterAll(async () => {
  await connection?.close();
  await app?.stop();
  if (tmp) fs.rmSync(tmp, { recursive: true, force: true });
}, 60_000);

async function submit(file: string, k = key): Promise<string> {
  const res = await submitFile(app.url, k, file, { model: 'whisper-tiny.en' });
  expect(res.status).toBe(202);
  return ((await res.json()) as { id: string }).id;
}

async function expectReleased() {
  const usage = await app.deps.quota.usage(userId, new Date().toISOString().slice(0, 10));
  expect(usage.activeJobs).toBe(0);
  expect((await app.deps.quota.counters(userId, new Date().toISOString().slice(0, 10))).activeJobs).toBe(0);
}

describe('with three completed jobs', () => {
  let ids: string[];
  beforeAll(async () => {
    ids = [];
    for (let i = 0; i < 3; i++) ids.push(await submit(path.join(AUDIO, 'jfk.wav')));
    for (const id of ids) expect((await waitForJob(app.url, key, id)).status).toBe('completed');
  }, 120_000);

  test('GET /v1/jobs pages newest first with a cursor, filters by status, shows only own jobs', async () => {
    const first = (await (await get('/v1/jobs?limit=2')).json()) as { data: { id: string }[]; nextCursor: string };
    expect(first.data.map((j) => j.id)).toEqual([ids[2], ids[1]]);
    expect(first.nextCursor).toEqual(expect.any(String));
    const second = (await (await get(`/v1/jobs?limit=2&cursor=${first.nextCursor}`)).json()) as {
      data: { id: string }[];
      nextCursor: string | null;
    };
    expect(second.data.map((j) => j.id)).toEqual([ids[0]]);
    expect(second.nextCursor).toBeNull();
    const done = (await (await get('/v1/jobs?status=completed')).json()) as { data: unknown[] };
    expect(done.data).toHaveLength(3);
    const failed = (await (await get('/v1/jobs?status=failed')).json()) as { data: unknown[] };
    expect(failed.data).toHaveLength(0);
    const others = (await (await get('/v1/jobs', otherKey)).json()) as { data: unknown[] };
    expect(others.data).toHaveLength(0);
    for (const bad of ['?cursor=garbage', '?limit=0', '?limit=1000', '?status=done', '?colour=blue']) {
      const res = await get(`/v1/jobs${bad}`);
      expect(res.status).toBe(400);
      expect(((await res.json()) as { error: { code: string } }).error.code).toBe('invalid_request');
    }
  });

  test('GET /v1/jobs/:id/transcript in text, srt, vtt and json', async () => {
    const id = ids[0];
    const text = await (await get(`/v1/jobs/${id}/transcript?format=text`)).text();
    expect(wer(JFK_REFERENCE, text)).toBeLessThanOrEqual(0.1);

    const srtRes = await get(`/v1/jobs/${id}/transcript?format=srt`);
    expect(srtRes.headers.get('content-type')).toMatch(/subrip/);
    const srt = parseSync(await srtRes.text()).filter((n) => n.type === 'cue');
    expect(srt.length).toBeGreaterThan(0);
    expect(wer(JFK_REFERENCE, srt.map((n) => (n.data as { text: string }).text).join(' '))).toBeLessThanOrEqual(0.1);

    const vttRes = await get(`/v1/jobs/${id}/transcript?format=vtt`);
    expect(vttRes.headers.get('content-type')).toMatch(/text\/vtt/);
    const vttBody = await vttRes.text();
    expect(vttBody.startsWith('WEBVTT')).toBe(true);
    const vtt = parseSync(vttBody).filter((n) => n.type === 'cue');
    expect(vtt).toHaveLength(srt.length);

    const json = (await (await get(`/v1/jobs/${id}/transcript?format=json`)).json()) as { segments: { start: number; end: number }[] };
    expect(json.segments).toHaveLength(srt.length);
    srt.forEach((n, i) => expect((n.data as { start: number }).start).toBe(Math.round(json.segments[i].start * 1000)));

    const bad = await get(`/v1/jobs/${id}/transcript?format=docx`);
    expect(bad.status).toBe(400);
  });

  test('cancelling an ended job → 409 not_cancellable', async () => {
    const res = await fetch(`${app.url}/v1/jobs/${ids[0]}/cancel`, { method: 'POST', headers: auth(key) });
    expect(res.status).toBe(409);
    expect(((await res.json()) as { error: { code: string } }).error.code).toBe('not_cancellable');
  });

  test('DELETE removes the transcript (then 404) and keeps the ledger rows', async () => {
    const id = ids[1];
    const res = await fetch(`${app.url}/v1/jobs/${id}`, { method: 'DELETE', headers: auth(key) });
    expect(res.status).toBe(204);
    expect((await get(`/v1/jobs/${id}`)).status).toBe(404);
    expect((await get(`/v1/jobs/${id}/transcript`)).status).toBe(404);
    const { rows } = await app.pool.query('SELECT text, segments FROM jobs WHERE id = $1', [id]);
    expect(rows[0]).toEqual({ text: null, segments: null });
    const ledger = await app.pool.query('SELECT kind FROM usage_ledger WHERE job_id = $1 ORDER BY kind', [id]);
    expect(ledger.rows.map((r) => r.kind)).toEqual(['charge', 'refund', 'reserve']);
    expect((await fetch(`${app.url}/v1/jobs/${id}`, { method: 'DELETE', headers: auth(key) })).status).toBe(404);
  });
});

test('POST /v1/jobs/:id/cancel stops a running job: cancelled, quota released, no blobs', async () => {
  const id = await submit(longFile);
  const res = await fetch(`${app.url}/v1/jobs/${id}/cancel`, { method: 'POST', headers: auth(key) });
  expect(res.status).toBe(202);
  // The answer is the job as it is now, with a public JobStatus (common/constants.ts; never an ad-hoc "cancelling").
  const accepted = (await res.json()) as { id: string; status: string };
  expect(accepted.id).toBe(id);
  expect(['queued', 'running', 'cancelled']).toContain(accepted.status);
  const job = await waitForJob(app.url, key, id);
  expect(job.status).toBe('cancelled');
  expect(job.text).toBeUndefined();
  await expectReleased();
  expect(fs.existsSync(path.join(app.config.blobDir, id))).toBe(false);
  const handle = temporal.workflow.getHandle(workflowIdFor(id));
  await handle.result().catch(() => undefined);
  const desc = await handle.describe();
  expect(desc.searchAttributes.JobStatus).toEqual(['cancelled']);
  // Temporal's workflow cancellation: the UI shows Canceled, not Failed.
  expect(desc.status.name).toBe('CANCELLED');
  const again = await fetch(`${app.url}/v1/jobs/${id}/cancel`, { method: 'POST', headers: auth(key) });
  expect(again.status).toBe(409);
}, 120_000);

test('the `cancel` signal (Temporal UI / CLI) has the same effect', async () => {
  const id = await submit(longFile);
  const handle = temporal.workflow.getHandle(workflowIdFor(id));
  await handle.signal('cancel');
  expect((await waitForJob(app.url, key, id)).status).toBe('cancelled');
  await expectReleased();
  // The workflow completes (not Failed: a user's cancel is no failure) with result status `cancelled`.
  expect(await handle.result()).toEqual({ jobId: id, status: 'cancelled' });
  const desc = await handle.describe();
  expect(desc.status.name).toBe('COMPLETED');
  expect(desc.searchAttributes.JobStatus).toEqual(['cancelled']);
}, 120_000);

test('DELETE of a running job cancels it first', async () => {
  const id = await submit(longFile);
  const res = await fetch(`${app.url}/v1/jobs/${id}`, { method: 'DELETE', headers: auth(key) });
  expect(res.status).toBe(204);
  expect((await get(`/v1/jobs/${id}`)).status).toBe(404);
  const { rows } = await app.pool.query('SELECT status FROM jobs WHERE id = $1', [id]);
  expect(rows[0].status).toBe('cancelled');
  await expectReleased();
  expect(fs.existsSync(path.join(app.config.blobDir, id))).toBe(false);
}, 120_000);

test('Idempotency-Key: the same request returns the first job; a different one → 409 idempotency_conflict', async () => {
  const post = (file: string, fields: Record<string, string>) => {
    const form = new FormData();
    for (const [k, v] of Object.entries(fields)) form.append(k, v);
    form.append('file', new Blob([fs.readFileSync(file)]), path.basename(file));
    return fetch(`${app.url}/v1/jobs`, { method: 'POST', body: form, headers: { ...auth(key), 'Idempotency-Key': 'upload-42' } });
  };
  const jfk = path.join(AUDIO, 'jfk.wav');
  const [a, b] = await Promise.all([post(jfk, { model: 'whisper-tiny.en' }), post(jfk, { model: 'whisper-tiny.en' })]);
  expect([a.status, b.status]).toEqual([202, 202]);
  const [ja, jb] = (await Promise.all([a.json(), b.json()])) as { id: string }[];
  expect(ja.id).toBe(jb.id);
  const conflict = await post(jfk, { model: 'whisper-tiny.en', language: 'en' });
  expect(conflict.status).toBe(409);
  expect(((await conflict.json()) as { error: { code: string } }).error.code).toBe('idempotency_conflict');
  expect((await waitForJob(app.url, key, ja.id)).status).toBe('completed');
  const { rows } = await app.pool.query(`SELECT count(*)::int AS n FROM usage_ledger WHERE job_id = $1 AND kind = 'reserve'`, [ja.id]);
  expect(rows[0].n).toBe(1);
}, 120_000);

test("a multichannel job's SSE segment events name their channel, as its JSON segments do", async () => {
  const res = await submitFile(app.url, key, path.join(AUDIO, 'stereo_diarization.wav'), { multichannel: 'true', language: 'en', model: 'whisper-tiny.en' });
  expect(res.status).toBe(202);
  const { id } = (await res.json()) as { id: string };
  const job = (await waitForJob(app.url, key, id)) as { status: string; segments: { channel: number; text: string }[] };
  expect(job.status).toBe('completed');
  // The stream of an ended job replays its events, then ends with the terminal one.
  const body = await (await get(`/v1/jobs/${id}/events`)).text();
  const segments = body
    .split('\n\n')
    .filter((e) => /^event: segment$/m.test(e))
    .map((e) => JSON.parse(/^data: (.*)$/m.exec(e)![1]) as { channel?: number; text: string });
  expect(segments.length).toBeGreaterThanOrEqual(2);
  expect([...new Set(segments.map((s) => s.channel))].sort()).toEqual([0, 1]);
  // Each event's channel is the channel of the same text in the job JSON.
  for (const s of segments) expect(job.segments.find((j) => j.text.trim() === s.text.trim())?.channel).toBe(s.channel);
}, 180_000);
