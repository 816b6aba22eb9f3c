/**
 * Server-Sent Events: progress and segments while a job runs, then its end with the job JSON;
 * Last-Event-ID resumes without loss or repeats; browsers use a short-lived ?token=.
 */
import * as fs from 'node:fs';
import * as os from 'node:os';
import * as path from 'node:path';
import { execFileSync } from 'node:child_process';
import WebSocket from 'ws';
import { startTestApp, submitFile, type TestApp } from '../helpers/harness';

const AUDIO = path.resolve(__dirname, '../../../shared/audio');

let app: TestApp;
let key: string;
let tmp: string;
beforeAll(async () => {
  app = await startTestApp();
  key = (await app.user('premium')).apiKey;
  tmp = fs.mkdtempSync(path.join(os.tmpdir(), 'fs-sse-'));
}, 120_000);
afterAll(async () => {
  await app?.stop();
  if (tmp) fs.rmSync(tmp, { recursive: true, force: true });
}, 60_000);

interface SseEvent {
  id: number;
  event: string;
  data: any;
}

/** Reads an SSE response to its end (or `stopAfter` events) and parses the events. */
async function readEvents(res: Response, stopAfter = Infinity): Promise<SseEvent[]> {
  const events: SseEvent[] = [];
  const reader = res.body!.getReader();
  const decoder = new TextDecoder();
  let buf = '';
  for (;;) {
    const { value, done } = await reader.read();
    if (done) break;
    buf += decoder.decode(value, { stream: true });
    let i;
    while ((i = buf.indexOf('\n\n')) >= 0) {
      const block = buf.slice(0, i);
      buf = buf.slice(i + 2);
      const fields = Object.fromEntries(block.split('\n').filter((l) => l && !l.startsWith(':')).map((l) => [l.slice(0, l.indexOf(':')), l.slice(l.indexOf(':') + 2)]));
      if (fields.event) events.push({ id: Number(fields.id), event: fields.event, data: JSON.parse(fields.data) });
      if (events.length >= stopAfter) {
        await reader.cancel();
        return events;
      }
    }
  }
  return events;
}

test('a job streams progress and segments, then completed with the job JSON; Last-Event-ID resumes exactly', async () => {
  const long = path.join(tmp, 'jfk3.wav');
  execFileSync('ffmpeg', ['-v', 'error', '-y', '-stream_loop', '5', '-i', path.join(AUDIO, 'jfk.wav'), '-c:a', 'pcm_s16le', long]);
  const res = await submitFile(app.url, key, long, { model: 'whisper-tiny.en' });
  const { id } = (await res.json()) as { id: string };
  const auth = { authorization: `Bearer ${key}` };

  const first = await readEvents(await fetch(`${app.url}/v1/jobs/${id}/events`, { headers: auth }), 2);
  expect(first).toHaveLength(2);
  const resumed = await readEvents(
    await fetch(`${app.url}/v1/jobs/${id}/events`, { headers: { ...auth, 'Last-Event-ID': String(first[1].id) } }),
  );
  const all = [...first, ...resumed];
  const ids = all.map((e) => e.id);
  expect(ids).toEqual([...ids].sort((a, b) => a - b));
  expect(new Set(ids).size).toBe(ids.length); // no repeats across the resume
  const end = all[all.length - 1];
  expect(end.event).toBe('completed');
  expect(end.data).toMatchObject({ id, status: 'completed' });
  const progress = all.filter((e) => e.event === 'progress').map((e) => e.data);
  // Every event names the job's version it belongs to (1: the job was not re-transcribed).
  expect(progress[progress.length - 1]).toEqual({ chunksDone: end.data.progress.chunksTotal, chunksTotal: end.data.progress.chunksTotal, version: 1 });
  // Segments stream as chunks finish (chunks run concurrently, so not in time order); put in order
  // they are the final transcript.
  const segments = all
    .filter((e) => e.event === 'segment')
    .map((e) => e.data)
    .sort((a, b) => a.chunk - b.chunk || a.start - b.start);
  expect(segments.length).toBe(end.data.segments.length);
  expect(segments.map((s) => s.text).join(' ')).toBe(end.data.text);

  // The whole stream again from the start is the same (events live in Postgres).
  const replay = await readEvents(await fetch(`${app.url}/v1/jobs/${id}/events`, { headers: auth }));
  expect(replay.map((e) => e.id)).toEqual(ids);

  // Resuming at (or past) the terminal event: the stream is over. 204 makes EventSource stop
  // reconnecting; an open stream of keep-alives would hang the client (the timeout turns a hang into a failure).
  for (const last of [end.id, end.id + 5]) {
    const past = await fetch(`${app.url}/v1/jobs/${id}/events`, {
      headers: { ...auth, 'Last-Event-ID': String(last) },
      signal: AbortSignal.timeout(10_000),
    });
    expect({ last, status: past.status, body: await past.text() }).toEqual({ last, status: 204, body: '' });
  }
}, 120_000);

test('browsers: POST /v1/tokens → ?token= works for that job only, expires, and never for other routes', async () => {
  const res = await submitFile(app.url, key, path.join(AUDIO, 'jfk.wav'), { model: 'whisper-tiny.en' });
  const { id } = (await res.json()) as { id: string };
  const tokenRes = await fetch(`${app.url}/v1/tokens`, {
    method: 'POST',
    headers: { authorization: `Bearer ${key}`, 'content-type': 'application/json' },
    body: JSON.stringify({ jobId: id }),
  });
  expect(tokenRes.status).toBe(201);
  const { token, expiresAt } = (await tokenRes.json()) as { token: string; expiresAt: string };
  expect(Date.parse(expiresAt) - Date.now()).toBeLessThanOrEqual(5 * 60 * 1000);
  const events = await readEvents(await fetch(`${app.url}/v1/jobs/${id}/events?token=${encodeURIComponent(token)}`));
  expect(events[events.length - 1].event).toBe('completed');
  // not a key: no other route, no other job
  expect((await fetch(`${app.url}/v1/jobs/${id}?token=${encodeURIComponent(token)}`)).status).toBe(401);
  const other = (await (await submitFile(app.url, key, path.join(AUDIO, 'jfk.wav'), { model: 'whisper-tiny.en' })).json()) as { id: string };
  expect((await fetch(`${app.url}/v1/jobs/${other.id}/events?token=${encodeURIComponent(token)}`)).status).toBe(401);
  expect((await fetch(`${app.url}/v1/jobs/${id}/events?token=${encodeURIComponent(token.slice(0, -2) + 'xx')}`)).status).toBe(401);
  // a token for another user's job cannot be had
  const { apiKey: otherKey } = await app.user('free');
  const stolen = await fetch(`${app.url}/v1/tokens`, {
    method: 'POST',
    headers: { authorization: `Bearer ${otherKey}`, 'content-type': 'application/json' },
    body: JSON.stringify({ jobId: id }),
  });
  expect(stolen.status).toBe(404);
}, 120_000);

test('a token dies with the API key that minted it (events and /v1/listen)', async () => {
  const u = await app.user('premium');
  const auth = { authorization: `Bearer ${u.apiKey}`, 'content-type': 'application/json' };
  const { id } = (await (await submitFile(app.url, u.apiKey, path.join(AUDIO, 'jfk.wav'), { model: 'whisper-tiny.en' })).json()) as { id: string };
  const mint = async (body: object) => ((await (await fetch(`${app.url}/v1/tokens`, { method: 'POST', headers: auth, body: JSON.stringify(body) })).json()) as { token: string }).token;
  const jobToken = await mint({ jobId: id });
  const listenToken = await mint({ scope: 'listen' });
  const eventsWith = (t: string) => fetch(`${app.url}/v1/jobs/${id}/events?token=${encodeURIComponent(t)}`, { signal: AbortSignal.timeout(60_000) });
  const first = await eventsWith(jobToken);
  expect(first.status).toBe(200);
  await first.body?.cancel();

  const keyId = u.apiKey.split('_')[1];
  await app.pool.query('UPDATE api_keys SET revoked_at = now() WHERE id = $1', [keyId]);
  const after = await eventsWith(jobToken);
  expect(after.status).toBe(401);
  expect(((await after.json()) as any).error.code).toBe('unauthorized');
  // the listen upgrade is refused the same way (401 before any WebSocket is opened)
  const status = await new Promise<number>((resolve, reject) => {
    const ws = new WebSocket(`${app.url.replace('http', 'ws')}/v1/listen?token=${encodeURIComponent(listenToken)}`);
    ws.once('unexpected-response', (_req, res) => resolve(res.statusCode ?? 0));
    ws.once('open', () => (ws.terminate(), resolve(101)));
    ws.once('error', reject);
  });
  expect(status).toBe(401);
}, 120_000);

test('POST /v1/tokens says exactly what is wrong with its body', async () => {
  const headers = { authorization: `Bearer ${key}`, 'content-type': 'application/json' };
  const cases: [object, RegExp][] = [
    [{}, /jobId or scope is required/],
    [{ jobId: '00000000-0000-4000-8000-000000000000', scope: 'listen' }, /either jobId or scope, not both/],
    [{ scope: 'events' }, /scope must be "listen" \(got "events"\)/],
    [{ jobId: 'abc' }, /jobId must be a job id/],
    [{ scope: 'listen', extra: 1 }, /unknown field "extra"/],
  ];
  for (const [body, message] of cases) {
    const res = await fetch(`${app.url}/v1/tokens`, { method: 'POST', headers, body: JSON.stringify(body) });
    const err = ((await res.json()) as any).error;
    expect({ body, status: res.status, code: err.code }).toEqual({ body, status: 400, code: 'invalid_request' });
    expect(err.message).toMatch(message);
  }
}, 60_000);
