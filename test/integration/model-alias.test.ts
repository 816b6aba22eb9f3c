/**
 * `whisper-1`, listed by GET /v1/models as an alias of the caller's tier default (`aliasOf`), is a model id the native
 * API takes too (API.md: `model` is "a model id from GET /v1/models"). It was refused on POST /v1/jobs (and so
 * `transcribe --model whisper-1`) with "model 'whisper-1' is not installed; see GET /v1/models", the very list
 * that names it.
 */
import * as path from 'node:path';
import { execFileSync } from 'node:child_process';
import WebSocket from 'ws';
import { submitFile, waitForJob } from '../helpers/harness';
import { fileApp } from '../helpers/file-app';

const JFK = path.resolve(__dirname, '../../../shared/audio/jfk.wav');
const env = fileApp('fs-model-alias-');

test('POST /v1/jobs model=whisper-1 runs on the model GET /v1/models says it stands for', async () => {
  const { apiKey } = await env.app.user('free');
  const models = (await (await fetch(`${env.app.url}/v1/models`, { headers: { authorization: `Bearer ${apiKey}` } })).json()) as {
    data: { id: string; aliasOf?: string }[];
  };
  const alias = models.data.find((m) => m.id === 'whisper-1');
  expect(alias?.aliasOf).toBeDefined();
  const res = await submitFile(env.app.url, apiKey, JFK, { model: 'whisper-1', language: 'en' });
  const body = (await res.json()) as { id: string; error?: unknown };
  expect({ status: res.status, error: body.error }).toEqual({ status: 202, error: undefined });
  const job = await waitForJob(env.app.url, apiKey, body.id);
  expect({ status: job.status, model: job.model }).toEqual({ status: 'completed', model: alias!.aliasOf });
  expect(job.text).toMatch(/ask not what your country can do for you/i);
}, 120_000);

test('POST /v1/jobs/:id/retranscribe {"model": "whisper-1"} makes a version on the tier default', async () => {
  const { apiKey } = await env.app.user('standard');
  const auth = { authorization: `Bearer ${apiKey}` };
  const models = (await (await fetch(`${env.app.url}/v1/models`, { headers: auth })).json()) as { data: { id: string; aliasOf?: string }[] };
  const alias = models.data.find((m) => m.id === 'whisper-1')!;
  const res = await submitFile(env.app.url, apiKey, JFK, { model: 'whisper-tiny.en', language: 'en', retainAudioSeconds: '600' });
  expect(res.status).toBe(202);
  const { id } = (await res.json()) as { id: string };
  expect((await waitForJob(env.app.url, apiKey, id)).status).toBe('completed');
  const again = await fetch(`${env.app.url}/v1/jobs/${id}/retranscribe`, {
    method: 'POST',
    headers: { ...auth, 'content-type': 'application/json' },
    body: JSON.stringify({ model: 'whisper-1' }),
  });
  const body = (await again.json()) as { version?: number; model?: string; error?: unknown };
  expect({ status: again.status, error: body.error, version: body.version, model: body.model }).toEqual({
    status: 202, error: undefined, version: 2, model: alias.aliasOf,
  });
}, 120_000);

/** A short live stream (the first 2 s of jfk, sent at once): its `done`, or the `error` that ended it. */
async function liveStream(apiKey: string, model?: string): Promise<Record<string, any>> {
  const pcm = execFileSync('ffmpeg', ['-v', 'error', '-i', JFK, '-t', '2', '-ac', '1', '-ar', '16000', '-f', 's16le', '-']);
  const ws = new WebSocket(`${env.app.url.replace('http', 'ws')}/v1/listen`, { headers: { authorization: `Bearer ${apiKey}` } });
  const end = new Promise<Record<string, any>>((resolve, reject) => {
    ws.on('message', (data, isBinary) => {
      if (isBinary) return;
      const m = JSON.parse(data.toString());
      if (m.type === 'done' || m.type === 'error') resolve(m);
    });
    ws.once('close', (code, reason) => resolve({ type: 'closed', code, reason: reason.toString() }));
    ws.once('error', reject);
  });
  await new Promise<void>((resolve, reject) => (ws.once('open', () => resolve()), ws.once('error', reject)));
  ws.send(JSON.stringify({ type: 'start', sampleRate: 16000, encoding: 'pcm_s16le', ...(model ? { model } : {}) }));
  for (let i = 0; i < pcm.length; i += 3200) ws.send(pcm.subarray(i, i + 3200));
  ws.send(JSON.stringify({ type: 'stop' }));
  const m = await end;
  ws.close();
  return m;
}

test('GET /v1/listen with model "whisper-1" in its start message runs on the model a stream naming none runs on', async () => {
  const { apiKey } = await env.app.user('standard');
  const alias = await liveStream(apiKey, 'whisper-1');
  expect(alias).toMatchObject({ type: 'done', jobId: expect.any(String) });
  const plain = await liveStream(apiKey);
  expect(plain).toMatchObject({ type: 'done', jobId: expect.any(String) });
  const modelOf = async (id: string) => (await env.app.pool.query('SELECT model FROM jobs WHERE id = $1', [id])).rows[0].model;
  expect(await modelOf(alias.jobId)).toBe(await modelOf(plain.jobId));
}, 120_000);
