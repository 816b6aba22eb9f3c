/**
 * The nginx gateway (infra/nginx) in front of two API replicas, each its own process: file jobs and SSE
 * through it, request ids passed through, and one replica killed mid-run — admitted jobs complete, new
 * ones are admitted by the other replica, and the SSE client on the dead replica resumes with
 * Last-Event-ID on the other without loss or repeats. Errors nginx itself makes are in our JSON shape.
 */
import { execFileSync, spawn, type ChildProcess } from 'node:child_process';
import * as crypto from 'node:crypto';
import * as fs from 'node:fs';
import * as os from 'node:os';
import * as path from 'node:path';
import WebSocket from 'ws';
import { freePorts } from '../../infra/services';
import { appProcessEnv, startTestApp, submitFile, waitForJob, type TestApp } from '../helpers/harness';
import { startGateway, type TestGateway } from '../helpers/nginx';
import { normalise } from '../helpers/wer';

const AUDIO = path.resolve(__dirname, '../../../shared/audio');
const ROOT = path.resolve(__dirname, '../..');

let app: TestApp;
let tmp: string;
const replicas: { port: number; child: ChildProcess; exited: Promise<void> }[] = [];
let gw: TestGateway;

/** One API replica as its own process (api/main.ts), sharing the test app's database, Redis, Temporal and blobs. */
async function startReplica(port: number, tokenSecret: string) {
  // node itself with tsx's loader (not the tsx wrapper, which would leave the server running as its child when killed)
  const child = spawn(process.execPath, ['--import', 'tsx', path.join(ROOT, 'api/main.ts')], {
    cwd: ROOT,
    env: {
      ...appProcessEnv(app),
      WHISPER_MODELS_DIR: app.config.modelsDir,
      API_HOST: '127.0.0.1',
      API_PORT: String(port),
      TOKEN_SECRET: tokenSecret,
      LOG_LEVEL: 'warn',
    },
    stdio: ['ignore', 'ignore', 'inherit'],
  });
  const exited = new Promise<void>((resolve) => child.once('exit', () => resolve()));
  replicas.push({ port, child, exited });
  const deadline = Date.now() + 90_000;
  while (!(await fetch(`http://127.0.0.1:${port}/readyz`).then((r) => r.ok, () => false))) {
    if (child.exitCode !== null || Date.now() > deadline) throw new Error(`API replica on ${port} did not start`);
    await new Promise((r) => setTimeout(r, 250));
  }
}

beforeAll(async () => {
  app = await startTestApp();
  tmp = fs.mkdtempSync(path.join(os.tmpdir(), 'fs-gw-'));
  const ports = await freePorts(2);
  const secret = crypto.randomBytes(32).toString('hex');
  // One after the other: each runs the (idempotent) migrations at start-up, which take a lock.
  for (const p of ports) await startReplica(p, secret);
  gw = await startGateway({ apis: ports.map((p) => `127.0.0.1:${p}`), maxFails: 1, failTimeout: '30s' });
}, 180_000);

afterAll(async () => {
  await gw?.stop();
  for (const r of replicas) if (r.child.exitCode === null) r.child.kill('SIGKILL');
  await Promise.all(replicas.map((r) => r.exited));
  await app?.stop();
  if (tmp) fs.rmSync(tmp, { recursive: true, force: true });
}, 60_000);

interface SseEvent {
  id: number;
  event: string;
  data: any;
}

/** Reads an SSE stream as events arrive (into `into`) until it ends; resolves `true` when it ended with a terminal event. */
async function pump(res: Response, into: SseEvent[]): Promise<boolean> {
  const reader = res.body!.getReader();
  const decoder = new TextDecoder();
  let buf = '';
  try {
    for (;;) {
      const { value, done } = await reader.read();
      if (done) return false;
      buf += decoder.decode(value, { stream: true });
      let i;
      while ((i = buf.indexOf('\n\n')) >= 0) {
        const block = buf.slice(0, i);
        buf = buf.slice(i + 2);
        const f = Object.fromEntries(
          block.split('\n').filter((l) => l && !l.startsWith(':')).map((l) => [l.slice(0, l.indexOf(':')), l.slice(l.indexOf(':') + 2)]),
        );
        if (!f.event) continue;
        into.push({ id: Number(f.id), event: f.event, data: JSON.parse(f.data) });
        if (['completed', 'failed', 'cancelled', 'expired'].includes(f.event)) return true;
      }
    }
  } catch {
    return false; // the connection was cut (the replica died)
  }
}

test('request ids pass through both ways; /metrics stays internal', async () => {
  const res = await fetch(`${gw.url}/healthz`, { headers: { 'X-Request-Id': 'trace-abc-123' } });
  expect(res.status).toBe(200);
  expect(res.headers.get('x-request-id')).toBe('trace-abc-123');
  const own = await fetch(`${gw.url}/healthz`);
  expect(own.headers.get('x-request-id')).toMatch(/^[0-9a-f]{32}$/);
  const metrics = await fetch(`${gw.url}/metrics`);
  expect(metrics.status).toBe(404);
  expect(((await metrics.json()) as any).error.code).toBe('not_found');
});

test('a WebSocket stream (/v1/listen) through the gateway: upgrade, binary frames, final text', async () => {
  const { apiKey } = await app.user('premium');
  const pcm = execFileSync('ffmpeg', ['-v', 'error', '-i', path.join(AUDIO, 'jfk.flac'), '-ac', '1', '-ar', '16000', '-f', 's16le', '-'], {
    maxBuffer: 64 * 1024 * 1024,
  });
  const ws = new WebSocket(`${gw.url.replace('http', 'ws')}/v1/listen`, { headers: { authorization: `Bearer ${apiKey}`, 'X-Request-Id': 'ws-rid-1' } });
  const messages: any[] = [];
  ws.on('message', (data, isBinary) => {
    if (!isBinary) messages.push(JSON.parse(data.toString()));
  });
  const upgrade = await new Promise<Record<string, string | string[] | undefined>>((resolve, reject) => {
    ws.once('upgrade', (res) => resolve(res.headers));
    ws.once('unexpected-response', (_req, res) => reject(new Error(`HTTP ${res.statusCode}`)));
    ws.once('error', reject);
  });
  expect(upgrade['x-request-id']).toBe('ws-rid-1');
  await new Promise<void>((resolve) => (ws.readyState === WebSocket.OPEN ? resolve() : ws.once('open', () => resolve())));
  const closed = new Promise<void>((resolve) => ws.once('close', () => resolve()));
  ws.send(JSON.stringify({ type: 'start', sampleRate: 16000, encoding: 'pcm_s16le', language: 'en' }));
  // 100 ms frames at 4× real time: well within what nginx passes through unbuffered.
  for (let i = 0; i < pcm.length; i += 3200) {
    ws.send(pcm.subarray(i, i + 3200));
    await new Promise((r) => setTimeout(r, 25));
  }
  ws.send(JSON.stringify({ type: 'stop' }));
  await closed;
  const done = messages.find((m) => m.type === 'done');
  expect(done).toBeDefined();
  expect(normalise(done.text).join(' ')).toContain('ask not what your country can do for you');
}, 120_000);

test('one replica killed mid-run: jobs complete, new jobs are admitted, SSE resumes with Last-Event-ID', async () => {
  const { apiKey } = await app.user('premium');
  const auth = { authorization: `Bearer ${apiKey}` };
  // Three chunks, so events keep coming after the kill (the first chunk runs alone to detect the language).
  const long = path.join(tmp, 'jfk6.wav');
  execFileSync('ffmpeg', ['-v', 'error', '-y', '-stream_loop', '5', '-i', path.join(AUDIO, 'jfk.wav'), '-c:a', 'pcm_s16le', long]);
  const first = await submitFile(gw.url, apiKey, long, { model: 'whisper-tiny.en' });
  expect(first.status).toBe(202);
  const { id } = (await first.json()) as { id: string };
  const short = await submitFile(gw.url, apiKey, path.join(AUDIO, 'jfk.flac'), { model: 'whisper-tiny.en' });
  expect(short.status).toBe(202);
  const shortId = ((await short.json()) as { id: string }).id;

  // Two consecutive requests through one nginx worker go round-robin to the two replicas.
  const responses = [await fetch(`${gw.url}/v1/jobs/${id}/events`, { headers: auth }), await fetch(`${gw.url}/v1/jobs/${id}/events`, { headers: auth })];
  expect(responses.map((r) => r.status)).toEqual([200, 200]);
  const streams = responses.map((res) => {
    const events: SseEvent[] = [];
    return { events, ended: pump(res, events) };
  });
  // Kill one replica once both streams have seen events but the job is still running.
  const deadline = Date.now() + 120_000;
  while (!streams.every((s) => s.events.length > 0) && Date.now() < deadline) await new Promise((r) => setTimeout(r, 100));
  expect(streams.every((s) => s.events.length > 0)).toBe(true);
  expect(streams.some((s) => s.events.some((e) => e.event === 'completed'))).toBe(false);
  const victim = replicas[0];
  victim.child.kill('SIGKILL');
  await victim.exited;

  // A job submitted now is admitted by the surviving replica (the dead one refuses; nginx tries the next).
  const after = await submitFile(gw.url, apiKey, path.join(AUDIO, 'jfk.flac'), { model: 'whisper-tiny.en' });
  expect(after.status).toBe(202);
  const afterId = ((await after.json()) as { id: string }).id;

  const outcomes = await Promise.all(streams.map((s) => s.ended));
  // Exactly one stream was on the killed replica: it was cut; the other ran to `completed`.
  expect(outcomes.sort()).toEqual([false, true]);
  const cut = streams.find((s) => s.events[s.events.length - 1].event !== 'completed')!;
  const whole = streams.find((s) => s !== cut)!;
  const lastId = cut.events[cut.events.length - 1].id;
  const resumed = await fetch(`${gw.url}/v1/jobs/${id}/events`, { headers: { ...auth, 'Last-Event-ID': String(lastId) } });
  expect(resumed.status).toBe(200);
  expect(await pump(resumed, cut.events)).toBe(true);
  // Resumed on the other replica: the same events, in order, none lost or repeated.
  expect(cut.events.map((e) => e.id)).toEqual(whole.events.map((e) => e.id));
  expect(cut.events[cut.events.length - 1].data).toMatchObject({ id, status: 'completed' });

  for (const jobId of [id, shortId, afterId]) {
    const job = await waitForJob(gw.url, apiKey, jobId);
    expect(job.status).toBe('completed');
    expect(normalise(job.text).join(' ')).toContain('ask not what your country can do for you');
  }
}, 240_000);

describe("errors nginx itself produces use the API's JSON shape", () => {
  let edge: TestGateway;
  beforeAll(async () => {
    // No replica listens on these ports; a tiny body limit and rate make the other two errors easy to reach.
    const dead = await freePorts(1);
    edge = await startGateway({ apis: [`127.0.0.1:${dead[0]}`], clientMaxBodyBytes: 10_000, rateLimit: '1r/m', rateBurst: 5 });
  });
  afterAll(() => edge?.stop());

  test('502 unavailable, 413 file_too_large, 429 rate_limited', async () => {
    const down = await fetch(`${edge.url}/v1/jobs`, { headers: { 'X-Request-Id': 'rid-502' } });
    expect(down.status).toBe(502);
    expect(down.headers.get('content-type')).toBe('application/json');
    expect(down.headers.get('x-request-id')).toBe('rid-502');
    expect(((await down.json()) as any).error).toMatchObject({ code: 'unavailable', message: expect.any(String) });

    const big = await fetch(`${edge.url}/v1/jobs`, { method: 'POST', body: new Uint8Array(20_000), headers: { 'content-type': 'application/octet-stream' } });
    expect(big.status).toBe(413);
    expect(((await big.json()) as any).error).toMatchObject({ code: 'file_too_large', limit: 10_000 });

    let limited: Response | null = null;
    for (let i = 0; i < 10 && !limited; i++) {
      const r = await fetch(`${edge.url}/healthz`);
      if (r.status === 429) limited = r;
      else await r.arrayBuffer();
    }
    expect(limited).not.toBeNull();
    expect(limited!.headers.get('retry-after')).toBe('1');
    expect(((await limited!.json()) as any).error.code).toBe('rate_limited');
  });
});
