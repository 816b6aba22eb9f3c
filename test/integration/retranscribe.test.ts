/**
 * Re-transcription with versions kept: a free job with audio retention is upgraded to whisper-base;
 * both versions stay readable, each is charged on its own in the ledger (and Redis agrees), the
 * retained audio goes when its retention ends (a durable timer, seconds here) and at DELETE; a job
 * without retained audio answers 409 audio_not_retained.
 */
import * as fs from 'node:fs';
import * as path from 'node:path';
import { startTestApp, submitFile, waitForJob, type TestApp } from '../helpers/harness';
import { wer } from '../helpers/wer';

const AUDIO = path.resolve(__dirname, '../../../shared/audio');
const JFK = path.join(AUDIO, 'jfk.wav');
const JFK_REFERENCE =
  'And so my fellow Americans, ask not what your country can do for you, ask what you can do for your country.';
/** Long enough to start version 2 after version 1 completes on a loaded machine; short enough to wait out. */
const RETAIN_S = 25;

let app: TestApp;
let userId: string;
let apiKey: string;

beforeAll(async () => {
  app = await startTestApp();
  ({ userId, apiKey } = await app.user('free'));
}, 120_000);
afterAll(() => app?.stop(), 60_000);

const auth = (k = apiKey) => ({ authorization: `Bearer ${k}` });
const getJob = async (id: string, k = apiKey) => (await (await fetch(`${app.url}/v1/jobs/${id}`, { headers: auth(k) })).json()) as Record<string, any>;
const retranscribe = (id: string, body: unknown, k = apiKey) =>
  fetch(`${app.url}/v1/jobs/${id}/retranscribe`, { method: 'POST', headers: { ...auth(k), 'content-type': 'application/json' }, body: JSON.stringify(body) });
const transcript = async (id: string, q: string, k = apiKey) => fetch(`${app.url}/v1/jobs/${id}/transcript?${q}`, { headers: auth(k) });
const blobDir = (id: string) => path.join(app.config.blobDir, id);

async function until<T>(what: string, f: () => Promise<T | undefined | null | false>, timeoutMs = 120_000): Promise<T> {
  const deadline = Date.now() + timeoutMs;
  for (;;) {
    const v = await f();
    if (v) return v;
    if (Date.now() > deadline) throw new Error(`timed out waiting for ${what}`);
    // Every 2 s: a free key has 60 requests a minute.
    await new Promise((r) => setTimeout(r, 2_000));
  }
}

test('free job with retention → upgrade to base: both versions readable, two charges, audio gone when retention ends', async () => {
  const sub = await submitFile(app.url, apiKey, JFK, { retainAudioSeconds: String(RETAIN_S) });
  expect(sub.status).toBe(202);
  const { id } = (await sub.json()) as { id: string };
  const v1 = await waitForJob(app.url, apiKey, id);
  expect(v1.status).toBe('completed');
  expect(v1.model).toBe('whisper-tiny.en');
  expect(v1.version).toBe(1);
  expect(v1.versions).toEqual([expect.objectContaining({ version: 1, status: 'completed', model: 'whisper-tiny.en', billedSeconds: v1.billedSeconds })]);
  const retainedUntil = Date.parse(v1.audioRetainedUntil);
  // Retention starts as the job completes (just before its transcript is stored).
  expect(retainedUntil - Date.parse(v1.completedAt)).toBeGreaterThan((RETAIN_S - 10) * 1000);
  expect(retainedUntil - Date.parse(v1.completedAt)).toBeLessThanOrEqual(RETAIN_S * 1000);
  expect(fs.existsSync(blobDir(id))).toBe(true);

  const res = await retranscribe(id, { model: 'whisper-base' });
  expect(res.status).toBe(202);
  const accepted = (await res.json()) as Record<string, any>;
  expect(accepted).toMatchObject({ id, version: 2, versions: [{ version: 1, status: 'completed' }, { version: 2, model: 'whisper-base' }] });
  expect(['queued', 'running']).toContain(accepted.status);
  // While version 2 runs, a third is refused and version 1 stays readable.
  const again = await retranscribe(id, { model: 'whisper-base' });
  if (again.status !== 202) {
    expect(again.status).toBe(409);
    expect(((await again.json()) as any).error.code).toBe('not_completed');
  }
  const t1 = await transcript(id, 'version=1');
  expect(t1.status).toBe(200);
  expect(wer(JFK_REFERENCE, await t1.text())).toBeLessThanOrEqual(0.1);

  const v2 = await until('version 2', async () => {
    const j = await getJob(id);
    return j.version === 2 && ['completed', 'failed', 'cancelled'].includes(j.status) && j;
  });
  expect(v2.status).toBe('completed');
  expect(v2.model).toBe('whisper-base');
  expect(v2.id).toBe(id);
  expect(wer(JFK_REFERENCE, v2.text)).toBeLessThanOrEqual(0.1);
  expect(v2.versions.map((v: any) => [v.version, v.status, v.model])).toEqual([
    [1, 'completed', 'whisper-tiny.en'],
    [2, 'completed', 'whisper-base'],
  ]);
  for (const [q, version] of [['version=1', 1], ['version=2', 2], ['', 2]] as const) {
    const r = await transcript(id, `format=json&${q}`);
    expect(r.status).toBe(200);
    const body = (await r.json()) as Record<string, any>;
    expect(body).toMatchObject({ id, version });
    expect(wer(JFK_REFERENCE, body.text)).toBeLessThanOrEqual(0.1);
  }
  expect((await transcript(id, 'version=3')).status).toBe(404);

  // Two charges in the ledger, one per version; each reservation settled; Redis agrees.
  const ledger = await app.pool.query(
    `SELECT kind, count(*)::int AS n, sum(seconds)::int AS s FROM usage_ledger WHERE user_id = $1 GROUP BY kind ORDER BY kind`,
    [userId],
  );
  const by = Object.fromEntries(ledger.rows.map((r) => [r.kind, r]));
  expect(by.charge.n).toBe(2);
  expect(by.reserve.n).toBe(2);
  expect(by.refund.n).toBe(2);
  expect(by.charge.s).toBe(v2.versions[0].billedSeconds + v2.versions[1].billedSeconds);
  expect(by.reserve.s - by.refund.s).toBe(by.charge.s);
  const day = new Date().toISOString().slice(0, 10);
  expect(await app.deps.quota.counters(userId, day)).toEqual({ usedSeconds: by.charge.s, activeJobs: 0 });
  // Each version has its own end event; the stream of a re-transcribed job is its latest version's.
  const ends = await app.pool.query(
    `SELECT e.type, j.version FROM job_events e JOIN jobs j ON j.id = e.job_id
      WHERE (j.id = $1 OR j.parent_job_id = $1) AND e.type = 'completed' ORDER BY j.version`,
    [id],
  );
  expect(ends.rows).toEqual([{ type: 'completed', version: 1 }, { type: 'completed', version: 2 }]);
  const sse = await (await fetch(`${app.url}/v1/jobs/${id}/events`, { headers: auth() })).text();
  const last = sse.trim().split('\n\n').pop()!;
  expect(last).toMatch(/^id: \d+\nevent: completed\n/);
  expect(JSON.parse(last.split('\ndata: ')[1])).toMatchObject({ id, version: 2, status: 'completed' });
  expect(sse).toMatch(/event: segment\ndata: \{[^\n]*"version":2/);
  // The listing shows the job once.
  const list = (await (await fetch(`${app.url}/v1/jobs`, { headers: auth() })).json()) as { data: { id: string }[] };
  expect(list.data.filter((j) => j.id === id)).toHaveLength(1);

  // Retention ends: the durable timer deletes the audio and the job says so.
  await until('retention end', async () => {
    const { rows } = await app.pool.query('SELECT audio_retained_until FROM jobs WHERE id = $1', [id]);
    return rows[0].audio_retained_until === null;
  }, (RETAIN_S + 60) * 1000);
  const gone = await getJob(id);
  expect(gone.audioRetainedUntil).toBeNull();
  expect(Date.now()).toBeGreaterThanOrEqual(retainedUntil);
  expect(gone.status).toBe('completed');
  expect(fs.existsSync(blobDir(id))).toBe(false);
  const late = await retranscribe(id, { model: 'whisper-base' });
  expect(late.status).toBe(409);
  expect(((await late.json()) as any).error.code).toBe('audio_not_retained');
}, 240_000);

test('without retained audio → 409 audio_not_retained; over the free maximum → 400; cancel acts on the running version; another user → 404; DELETE removes retained audio', async () => {
  // A standard user here: the free key's 60 requests a minute went to the first test.
  const { apiKey: k2 } = await app.user('standard');
  const plain = await submitFile(app.url, k2, JFK);
  const { id } = (await plain.json()) as { id: string };
  const done = await waitForJob(app.url, k2, id);
  expect(done.audioRetainedUntil).toBeNull();
  const r = await retranscribe(id, { model: 'whisper-base' }, k2);
  expect(r.status).toBe(409);
  expect(((await r.json()) as any).error).toMatchObject({ code: 'audio_not_retained', message: expect.stringContaining('retainAudioSeconds') });
  // a bad request is refused as such before the job's state: an unknown model is 400 even here
  const badModel = await retranscribe(id, { model: 'nope' }, k2);
  expect(badModel.status).toBe(400);
  expect(((await badModel.json()) as any).error).toMatchObject({ code: 'invalid_request', message: expect.stringContaining("model 'nope'") });

  const over = await submitFile(app.url, apiKey, JFK, { retainAudioSeconds: '3601' });
  expect(over.status).toBe(400);
  expect(((await over.json()) as any).error).toMatchObject({ code: 'invalid_request', limit: 3600 });

  const { apiKey: other } = await app.user('premium');
  expect((await retranscribe(id, { model: 'whisper-base' }, other)).status).toBe(404);
  expect((await retranscribe(id, { colour: 'blue' }, k2)).status).toBe(400);

  const kept = await submitFile(app.url, k2, JFK, { retainAudioSeconds: '604800' });
  const keptId = ((await kept.json()) as { id: string }).id;
  const k = await waitForJob(app.url, k2, keptId);
  expect(k.audioRetainedUntil).not.toBeNull();
  expect(fs.existsSync(blobDir(keptId))).toBe(true);
  // Cancel acts on the running version; the earlier one stays readable and the version's quota goes back.
  const v2 = await retranscribe(keptId, { model: 'whisper-base' }, k2);
  expect(v2.status).toBe(202);
  const cancel = await fetch(`${app.url}/v1/jobs/${keptId}/cancel`, { method: 'POST', headers: auth(k2) });
  expect(cancel.status).toBe(202);
  const cancelled = await until('version 2 cancelled', async () => {
    const j = await getJob(keptId, k2);
    return j.version === 2 && j.status === 'cancelled' && j;
  });
  expect(cancelled.versions.map((v: any) => v.status)).toEqual(['completed', 'cancelled']);
  const t = await transcript(keptId, 'format=json', k2);
  expect(((await t.json()) as any).version).toBe(1);
  const refunds = await app.pool.query(
    `SELECT l.kind, l.seconds FROM usage_ledger l JOIN jobs j ON j.id = l.job_id WHERE j.parent_job_id = $1 ORDER BY l.kind`,
    [keptId],
  );
  const v2ledger = Object.fromEntries(refunds.rows.map((r) => [r.kind, r.seconds]));
  expect(v2ledger.charge).toBeUndefined();
  expect(v2ledger.refund).toBe(v2ledger.reserve);
  const del = await fetch(`${app.url}/v1/jobs/${keptId}`, { method: 'DELETE', headers: auth(k2) });
  expect(del.status).toBe(204);
  expect(fs.existsSync(blobDir(keptId))).toBe(false);
  const row = await app.pool.query('SELECT audio_retained_until FROM jobs WHERE id = $1', [keptId]);
  expect(row.rows[0].audio_retained_until).toBeNull();
  // Its timer was stopped too (nothing left running for a deleted job).
  const desc = await until('retention workflow closed', async () => {
    const d = await app.api.temporal.workflow.getHandle(`audio-retention-${keptId}`).describe();
    return d.status.name !== 'RUNNING' && d;
  }, 30_000);
  expect(['CANCELLED', 'COMPLETED']).toContain(desc.status.name);
}, 180_000);
