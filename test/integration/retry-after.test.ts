/**
 * Every 503 and 429 says when to try again (docs/api.md "Errors": `Retry-After`). With the quota store (Redis) down,
 * each way in that admits work fails closed with `quota_unavailable` and a Retry-After: POST /v1/jobs, the
 * OpenAI-compatible POST /v1/audio/transcriptions, and GET /v1/listen, whose WebSocket has no header and so carries
 * `retryAfterSeconds` in its `error` message; /readyz's 503 too.
 */
import * as fs from 'node:fs';
import * as os from 'node:os';
import * as path from 'node:path';
import WebSocket from 'ws';
import { freePort, startRedis, type RedisHandle } from '../../infra/services';
import { UNAVAILABLE_RETRY_AFTER_S } from '../../jobs/refusal';
import { startTestApp, submitFile, type TestApp } from '../helpers/harness';

const AUDIO = path.resolve(__dirname, '../../../shared/audio');

let app: TestApp;
let redis: RedisHandle;
let tmp: string;
let key: string;

beforeAll(async () => {
  tmp = fs.mkdtempSync(path.join(os.tmpdir(), 'fs-retry-after-'));
  redis = await startRedis({ port: await freePort(), dir: path.join(tmp, 'redis') });
  app = await startTestApp({ REDIS_URL: redis.url });
  key = (await app.user('premium')).apiKey;
  await redis.stop();
}, 120_000);

afterAll(async () => {
  await app?.stop();
  await redis?.stop().catch(() => undefined);
  if (tmp) fs.rmSync(tmp, { recursive: true, force: true });
}, 60_000);

const retryAfter = (res: Response) => Number(res.headers.get('retry-after'));

test('POST /v1/jobs: 503 quota_unavailable with Retry-After', async () => {
  const res = await submitFile(app.url, key, path.join(AUDIO, 'jfk.flac'));
  expect(res.status).toBe(503);
  expect(retryAfter(res)).toBeGreaterThan(0);
  expect(((await res.json()) as any).error.code).toBe('quota_unavailable');
}, 60_000);

test('POST /v1/audio/transcriptions: 503 in OpenAI’s shape with Retry-After', async () => {
  const form = new FormData();
  form.append('model', 'whisper-1');
  form.append('file', new Blob([fs.readFileSync(path.join(AUDIO, 'jfk.flac'))]), 'jfk.flac');
  const res = await fetch(`${app.url}/v1/audio/transcriptions`, { method: 'POST', body: form, headers: { authorization: `Bearer ${key}` } });
  expect(res.status).toBe(503);
  expect(retryAfter(res)).toBeGreaterThan(0);
  expect(((await res.json()) as any).error).toMatchObject({ code: 'quota_unavailable', type: 'server_error' });
}, 60_000);

test('GET /v1/listen: the start is refused with quota_unavailable, retryAfterSeconds and close 1013 (try again later)', async () => {
  const ws = new WebSocket(`${app.url.replace('http', 'ws')}/v1/listen`, { headers: { authorization: `Bearer ${key}` } });
  const messages: any[] = [];
  ws.on('message', (data) => messages.push(JSON.parse(data.toString())));
  const closed = new Promise<number>((resolve) => ws.on('close', (code) => resolve(code)));
  await new Promise<void>((resolve, reject) => {
    ws.once('open', () => resolve());
    ws.once('error', reject);
  });
  ws.send(JSON.stringify({ type: 'start', sampleRate: 16000, encoding: 'pcm_s16le' }));
  expect(await closed).toBe(1013);
  expect(messages).toEqual([{ type: 'error', code: 'quota_unavailable', message: expect.any(String), retryAfterSeconds: UNAVAILABLE_RETRY_AFTER_S }]);
}, 60_000);

test('/readyz: 503 with Retry-After while Redis is down', async () => {
  const res = await fetch(`${app.url}/readyz`);
  expect(res.status).toBe(503);
  expect(await res.json()).toMatchObject({ redis: false });
  expect(retryAfter(res)).toBeGreaterThan(0);
}, 30_000);
