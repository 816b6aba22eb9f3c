/**
 * Tenant isolation: another user's job is invisible (404 `not_found`, exactly as an unknown job, never
 * 403 and never its data) on every job route; revoked and forged keys are refused; keys, audio and
 * transcripts stay out of the logs.
 */
import * as crypto from 'node:crypto';
import * as fs from 'node:fs';
import * as os from 'node:os';
import * as path from 'node:path';
import { execFileSync } from 'node:child_process';
import { workflowIdFor } from '../../common/constants';
import { createApiKey } from '../../common/keys';
import { createLogger, setLogLevel } from '../../common/log';
import WebSocket from 'ws';
import { startTestApp, submitFile, waitForJob, type TestApp } from '../helpers/harness';

const AUDIO = path.resolve(__dirname, '../../../shared/audio');

/**
 * Every route that takes a job (or lists jobs): one line each. `owner` is the status the job's owner
 * then gets, which proves the route exists (a missing route answers 404 too). `job: 'running'` gives
 * the row a fresh job still in flight (for routes that change a job: B's call must not touch it);
 * otherwise the row uses one completed job. `list` rows answer B with 200 and a list without A's job.
 * Routes still to come join as one line, e.g.
 *   { route: 'GET /v1/jobs/:id/events', request: (id) => ['GET', `/v1/jobs/${id}/events`], owner: 200 },
 */
interface RouteCase {
  route: string;
  request: (jobId: string) => [method: string, path: string];
  owner: number;
  job?: 'completed' | 'running';
  list?: boolean;
}
const ROUTES: RouteCase[] = [
  { route: 'GET /v1/jobs/:id', request: (id) => ['GET', `/v1/jobs/${id}`], owner: 200 },
  { route: 'GET /v1/jobs', request: () => ['GET', '/v1/jobs'], owner: 200, list: true },
  { route: 'GET /v1/jobs?status=completed', request: () => ['GET', '/v1/jobs?status=completed&limit=100'], owner: 200, list: true },
  { route: 'GET /v1/jobs/:id/transcript', request: (id) => ['GET', `/v1/jobs/${id}/transcript`], owner: 200 },
  { route: 'GET /v1/jobs/:id/transcript?format=json', request: (id) => ['GET', `/v1/jobs/${id}/transcript?format=json`], owner: 200 },
  { route: 'GET /v1/jobs/:id/transcript?format=srt', request: (id) => ['GET', `/v1/jobs/${id}/transcript?format=srt`], owner: 200 },
  { route: 'GET /v1/jobs/:id/transcript?format=vtt', request: (id) => ['GET', `/v1/jobs/${id}/transcript?format=vtt`], owner: 200 },
  { route: 'GET /v1/jobs/:id/events', request: (id) => ['GET', `/v1/jobs/${id}/events`], owner: 200 },
  { route: 'POST /v1/jobs/:id/cancel', request: (id) => ['POST', `/v1/jobs/${id}/cancel`], owner: 202, job: 'running' },
  { route: 'DELETE /v1/jobs/:id', request: (id) => ['DELETE', `/v1/jobs/${id}`], owner: 204, job: 'running' },
  // Privacy mode's fallback upload: the owner's cloud job answers 409 not_awaiting_audio (edge jobs only).
  // POST /v1/jobs/:id/edge-result takes no API key (an edge token, bound to one job): test/integration/edge.test.ts.
  { route: 'PUT /v1/jobs/:id/audio', request: (id) => ['PUT', `/v1/jobs/${id}/audio`], owner: 409 },
];

let app: TestApp;
let tmp: string;
let file: string;
/** jfk eight times over (~90 s): a job that is still running while a row's calls are made */
let longFile: string;
let a: { userId: string; apiKey: string };
let b: { userId: string; apiKey: string };

/** The public id inside a key `fsk_<keyId>_<secret>`. */
const keyIdOf = (apiKey: string) => /^fsk_([A-Za-z0-9]{12})_/.exec(apiKey)![1];

beforeAll(async () => {
  tmp = fs.mkdtempSync(path.join(os.tmpdir(), 'fs-tenant-'));
  file = path.join(tmp, 'jfk-secret-name.mp3');
  execFileSync('ffmpeg', ['-v', 'error', '-y', '-i', path.join(AUDIO, 'jfk.flac'), '-ac', '1', '-ar', '16000', '-b:a', '32k', file]);
  longFile = path.join(tmp, 'jfk-x8.mp3');
  execFileSync('ffmpeg', ['-v', 'error', '-y', '-stream_loop', '7', '-i', path.join(AUDIO, 'jfk.flac'), '-ac', '1', '-ar', '16000', '-b:a', '24k', longFile]);
  app = await startTestApp();
  a = await app.user('standard');
  b = await app.user('standard');
}, 120_000);

afterAll(async () => {
  await app?.stop();
  if (tmp) fs.rmSync(tmp, { recursive: true, force: true });
}, 60_000);

function call(apiKey: string, [method, p]: [string, string]): Promise<Response> {
  return fetch(`${app.url}${p}`, { method, headers: { authorization: `Bearer ${apiKey}` } });
}

async function completedJob(apiKey: string): Promise<Record<string, any>> {
  const res = await submitFile(app.url, apiKey, file);
  expect(res.status).toBe(202);
  const { id } = (await res.json()) as { id: string };
  const job = await waitForJob(app.url, apiKey, id);
  expect(job.status).toBe('completed');
  return job;
}

async function ownerView(apiKey: string, id: string): Promise<Record<string, any>> {
  const res = await call(apiKey, ['GET', `/v1/jobs/${id}`]);
  expect(res.status).toBe(200);
  return (await res.json()) as Record<string, any>;
}

describe('user B cannot reach user A’s job', () => {
  let shared: Record<string, any>;

  beforeAll(async () => {
    shared = await completedJob(a.apiKey);
    expect(shared.text).toMatch(/fellow Americans/i);
  }, 120_000);

  afterAll(async () => {
    // Leave no running workflow behind for the next test file's workers.
    const { rows } = await app.pool.query(`SELECT id FROM jobs WHERE status IN ('queued', 'running')`);
    await Promise.all(rows.map((r) => app.api.temporal.workflow.getHandle(workflowIdFor(r.id)).result().catch(() => undefined)));
  }, 60_000);

  test.each(ROUTES.map((r) => [r.route, r] as const))('%s', async (_name, r) => {
    let job = shared;
    if (r.job === 'running') {
      const res = await submitFile(app.url, a.apiKey, longFile);
      expect(res.status).toBe(202);
      job = await ownerView(a.apiKey, ((await res.json()) as { id: string }).id);
    }
    const before = await ownerView(a.apiKey, job.id);

    const res = await call(b.apiKey, r.request(job.id));
    const raw = await res.text();
    expect(res.status).not.toBe(403);
    for (const secret of [job.id, shared.text, 'fellow Americans', path.basename(file), path.basename(longFile), a.userId]) {
      expect(raw).not.toContain(secret);
    }
    if (r.list) {
      expect(res.status).toBe(200);
      expect(JSON.parse(raw)).toMatchObject({ data: [] }); // B has no jobs of its own
    } else {
      expect(res.status).toBe(404);
      expect(JSON.parse(raw)).toEqual({ error: { code: 'not_found', message: expect.any(String) } });
      // Exactly the answer for a job that does not exist: nothing tells B the id is taken.
      const unknown = await call(b.apiKey, r.request(crypto.randomUUID()));
      expect({ status: unknown.status, body: await unknown.text() }).toEqual({ status: res.status, body: raw });
    }

    // A's job is untouched...
    if (r.job === 'running') {
      const history = await app.api.temporal.workflow.getHandle(workflowIdFor(job.id)).fetchHistory();
      expect(history.events?.filter((e) => e.workflowExecutionSignaledEventAttributes)).toEqual([]);
      expect(['queued', 'running']).toContain((await ownerView(a.apiKey, job.id)).status);
    } else {
      expect(await ownerView(a.apiKey, job.id)).toEqual(before);
    }
    // ...and the route is real: its owner gets through.
    const own = await call(a.apiKey, r.request(job.id));
    expect(own.status).toBe(r.owner);
    if (r.list) expect(await own.text()).toContain(job.id);
    if (r.job === 'running') await app.api.temporal.workflow.getHandle(workflowIdFor(job.id)).result().catch(() => undefined);
  }, 120_000);
});

/** Routes that take no job id in their path but create or reach one. */
describe('routes without a job id', () => {
  test('GET /v1/listen: a live stream’s job is its streamer’s alone; POST /v1/tokens {jobId} refuses others’ jobs', async () => {
    // A streams 2 s of jfk (16 kHz s16le) and stops.
    const pcm = execFileSync('ffmpeg', ['-v', 'error', '-i', path.join(AUDIO, 'jfk.flac'), '-t', '2', '-ac', '1', '-ar', '16000', '-f', 's16le', '-']);
    const ws = new WebSocket(`${app.url.replace('http', 'ws')}/v1/listen`, { headers: { authorization: `Bearer ${a.apiKey}` } });
    const done = new Promise<{ jobId: string }>((resolve, reject) => {
      ws.on('message', (d) => {
        const m = JSON.parse(d.toString());
        if (m.type === 'done') resolve(m);
        if (m.type === 'error') reject(new Error(m.message));
      });
      ws.on('error', reject);
    });
    await new Promise((r) => ws.once('open', r));
    ws.send(JSON.stringify({ type: 'start', sampleRate: 16000, encoding: 'pcm_s16le' }));
    for (let i = 0; i < pcm.length; i += 3200) ws.send(pcm.subarray(i, i + 3200));
    ws.send(JSON.stringify({ type: 'stop' }));
    const { jobId } = await done;
    expect((await call(a.apiKey, ['GET', `/v1/jobs/${jobId}`])).status).toBe(200);
    for (const p of [`/v1/jobs/${jobId}`, `/v1/jobs/${jobId}/transcript`, `/v1/jobs/${jobId}/events`]) {
      const res = await call(b.apiKey, ['GET', p]);
      expect({ p, status: res.status }).toEqual({ p, status: 404 });
    }
    expect(await (await call(b.apiKey, ['GET', '/v1/jobs?limit=100'])).text()).not.toContain(jobId);
    const tokenFor = (apiKey: string, body: unknown) =>
      fetch(`${app.url}/v1/tokens`, { method: 'POST', headers: { authorization: `Bearer ${apiKey}`, 'content-type': 'application/json' }, body: JSON.stringify(body) });
    expect((await tokenFor(b.apiKey, { jobId })).status).toBe(404);
    expect((await tokenFor(a.apiKey, { jobId })).status).toBe(201);
    // B's listen token opens B's streams only; it is no key to A's job events.
    const { token } = (await (await tokenFor(b.apiKey, { scope: 'listen' })).json()) as { token: string };
    expect((await fetch(`${app.url}/v1/jobs/${jobId}/events?token=${encodeURIComponent(token)}`)).status).toBe(401);
  }, 120_000);
});

describe('keys', () => {
  test('a revoked key answers 401; the user’s other keys keep working', async () => {
    const extra = await createApiKey(app.pool, a.userId);
    const probe = ['GET', `/v1/jobs/${crypto.randomUUID()}`] as [string, string];
    expect((await call(extra.apiKey, probe)).status).toBe(404); // authenticated: the job is just unknown
    await app.pool.query('UPDATE api_keys SET revoked_at = now() WHERE id = $1', [extra.keyId]);
    const res = await call(extra.apiKey, probe);
    expect(res.status).toBe(401);
    expect(((await res.json()) as { error: { code: string } }).error.code).toBe('unauthorized');
    expect((await call(a.apiKey, probe)).status).toBe(404);
  });

  test('the right key id with a wrong secret, or a secret with another key id, answers 401', async () => {
    const [, keyId, secret] = /^fsk_([A-Za-z0-9]{12})_(.+)$/.exec(a.apiKey)!;
    const otherSecret = crypto.randomBytes(32).toString('base64url');
    const flipped = secret.slice(0, -1) + (secret.endsWith('A') ? 'B' : 'A');
    const bKeyId = keyIdOf(b.apiKey);
    const probe = ['GET', `/v1/jobs/${crypto.randomUUID()}`] as [string, string];
    for (const forged of [`fsk_${keyId}_${otherSecret}`, `fsk_${keyId}_${flipped}`, `fsk_${bKeyId}_${secret}`]) {
      const res = await call(forged, probe);
      expect({ forged, status: res.status }).toEqual({ forged, status: 401 });
    }
  });
});

describe('logs', () => {
  test('no API key, audio or transcript text appears in anything written during a job’s life', async () => {
    const captured: string[] = [];
    const text = (chunk: unknown) => (typeof chunk === 'string' ? chunk : Buffer.from(chunk as Uint8Array).toString('latin1'));
    const streams = [process.stderr, process.stdout] as const;
    const originals = streams.map((s) => s.write);
    const consoleMethods = ['log', 'info', 'warn', 'error', 'debug'] as const;
    const consoleOriginals = consoleMethods.map((m) => console[m]);
    streams.forEach((s, i) => {
      s.write = function (this: typeof s, chunk: unknown, ...rest: unknown[]) {
        captured.push(text(chunk));
        return (originals[i] as (...args: unknown[]) => boolean).call(this, chunk, ...rest);
      } as typeof s.write;
    });
    consoleMethods.forEach((m, i) => {
      console[m] = (...args: unknown[]) => {
        captured.push(args.map(String).join(' '));
        consoleOriginals[i].apply(console, args);
      };
    });
    setLogLevel('debug');
    let job: Record<string, any>;
    const wrongKey = `fsk_${keyIdOf(a.apiKey)}_${crypto.randomBytes(32).toString('base64url')}`;
    try {
      createLogger({ component: 'test' }).info('capture check'); // proves the capture sees the logger
      job = await completedJob(a.apiKey);
      // The workflow ends (and logs so) just after the job reads completed.
      await app.api.temporal.workflow.getHandle(workflowIdFor(job.id)).result();
      await call(b.apiKey, ['GET', `/v1/jobs/${job.id}`]);
      await call(wrongKey, ['GET', `/v1/jobs/${job.id}`]);
      const bad = await submitFile(app.url, a.apiKey, file, { colour: 'blue' });
      expect(bad.status).toBe(400);
    } finally {
      setLogLevel('info');
      streams.forEach((s, i) => (s.write = originals[i]));
      consoleMethods.forEach((m, i) => (console[m] = consoleOriginals[i]));
    }
    const all = captured.join('\n');
    expect(all).toContain('capture check');

    const audio = fs.readFileSync(file);
    const slice = audio.subarray(audio.length >> 1, (audio.length >> 1) + 48);
    const forbidden = {
      apiKeyA: a.apiKey,
      secretA: a.apiKey.split('_').slice(2).join('_'),
      apiKeyB: b.apiKey,
      wrongKey,
      transcript: job!.text.trim(),
      phrase: 'fellow Americans',
      audioLatin1: slice.toString('latin1'),
      audioBase64: slice.toString('base64'),
      audioHex: slice.toString('hex'),
    };
    const leaks = Object.entries(forbidden).filter(([, v]) => all.includes(v));
    process.stderr.write(`[tenant] log capture: ${captured.length} writes, ${all.length} chars, leaks: ${JSON.stringify(leaks.map(([k]) => k))}\n`);
    expect(leaks.map(([k]) => k)).toEqual([]);

    // Structured: every JSON line that mentions the job names it as jobId, with the user it belongs
    // to (or the caller, for B's request; none for the unauthenticated one), from API, workflow and activities.
    const lines = all
      .split('\n')
      .filter((l) => l.startsWith('{') && l.includes(job!.id))
      .map((l) => JSON.parse(l) as Record<string, unknown>);
    const bad = lines.filter(
      (l) => l.jobId !== job!.id || !(l.userId === a.userId || (l.msg === 'request' && (l.userId === b.userId || l.status === 401))),
    );
    expect(bad).toEqual([]);
    const seen = new Set(lines.map((l) => `${l.msg}${l.activity ? ` ${l.activity}` : ''}`));
    for (const m of ['request', 'job admitted', 'workflow started', 'activity completed prepareAudio', 'activity completed transcribeChunk', 'activity completed finalizeTranscript', 'workflow ended']) {
      expect([m, seen.has(m)]).toEqual([m, true]);
    }
  }, 120_000);
});
