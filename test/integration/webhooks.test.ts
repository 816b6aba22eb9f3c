/**
 * Webhooks end to end: the secret from the admin CLI, a job's end → a Temporal-retried, signed POST
 * that standardwebhooks verifies, success recorded once, and the SSRF policy at admission and delivery.
 * The orchestration worker's transport resolves names from a table and refuses to open a socket outside
 * loopback, so no packet leaves the machine.
 */
import * as crypto from 'node:crypto';
import * as fs from 'node:fs';
import * as http from 'node:http';
import * as os from 'node:os';
import * as path from 'node:path';
import type { AddressInfo } from 'node:net';
import { execFileSync } from 'node:child_process';
import ipaddr from 'ipaddr.js';
import { Webhook } from 'standardwebhooks';
import { main as admin } from '../../api/cli/admin';
import { TASK_QUEUES, workflowIdFor } from '../../common/constants';
import type { WebhookTransport } from '../../webhooks/deliver';
import { startTestApp, submitFile, waitForJob, type TestApp } from '../helpers/harness';

const AUDIO = path.resolve(__dirname, '../../../shared/audio');
const NAMES: Record<string, string> = { 'hooks.test': '127.0.0.1', 'meta.test': '169.254.169.254', 'lan.test': '10.0.0.1' };

let app: TestApp;
let tmp: string;
let file: string;
let longFile: string;
let receiver: http.Server;
let port: number;
const received: { headers: Record<string, string>; body: string; status: number }[] = [];
/** statuses the receiver answers, in order; then 204 */
let script: number[] = [];
const connects: string[] = [];
const flakySeen = new Set<string>();

const transport: WebhookTransport = {
  timeoutMs: 5_000,
  resolve: async (host) => {
    // flaky.test: the resolver fails (EAI_AGAIN) the first time each is asked, then answers
    if (host.endsWith('.flaky.test') && !flakySeen.has(host)) {
      flakySeen.add(host);
      throw Object.assign(new Error(`getaddrinfo EAI_AGAIN ${host}`), { code: 'EAI_AGAIN' });
    }
    if (host.endsWith('.flaky.test')) return [{ address: '127.0.0.1', family: 4 }];
    if (!NAMES[host]) throw new Error(`ENOTFOUND ${host}`);
    return [{ address: NAMES[host], family: 4 }];
  },
  beforeConnect: (address) => {
    connects.push(address);
    if (ipaddr.process(address).range() !== 'loopback') throw new Error(`test guard: no connection to ${address}`);
  },
};

/** Runs the admin CLI in-process against the test database and returns its JSON. */
async function adminJson(args: string[]): Promise<Record<string, any>> {
  const saved = { db: process.env.DATABASE_URL, redis: process.env.REDIS_URL };
  process.env.DATABASE_URL = app.config.databaseUrl;
  process.env.REDIS_URL = app.config.redisUrl;
  const out: string[] = [];
  const write = process.stdout.write;
  process.stdout.write = ((chunk: string) => (out.push(String(chunk)), true)) as typeof process.stdout.write;
  try {
    expect(await admin([...args, '--json'])).toBe(0);
  } finally {
    process.stdout.write = write;
    process.env.DATABASE_URL = saved.db;
    process.env.REDIS_URL = saved.redis;
  }
  return JSON.parse(out.join(''));
}

async function until<T>(what: string, fn: () => Promise<T | undefined> | T | undefined, timeoutMs = 60_000): Promise<T> {
  const deadline = Date.now() + timeoutMs;
  for (;;) {
    const v = await fn();
    if (v) return v;
    if (Date.now() > deadline) throw new Error(`timed out waiting for ${what}`);
    await new Promise((r) => setTimeout(r, 200));
  }
}

beforeAll(async () => {
  tmp = fs.mkdtempSync(path.join(os.tmpdir(), 'fs-webhooks-'));
  file = path.join(tmp, 'jfk.mp3');
  execFileSync('ffmpeg', ['-v', 'error', '-y', '-i', path.join(AUDIO, 'jfk.flac'), '-ac', '1', '-b:a', '32k', file]);
  longFile = path.join(tmp, 'jfk-x8.mp3');
  execFileSync('ffmpeg', ['-v', 'error', '-y', '-stream_loop', '7', '-i', path.join(AUDIO, 'jfk.flac'), '-ac', '1', '-b:a', '24k', longFile]);
  receiver = http.createServer((req, res) => {
    let body = '';
    req.on('data', (c) => (body += c));
    req.on('end', () => {
      const status = script.shift() ?? 204;
      received.push({ headers: req.headers as Record<string, string>, body, status });
      res.writeHead(status).end();
    });
  });
  await new Promise<void>((r) => receiver.listen(0, '127.0.0.1', r));
  port = (receiver.address() as AddressInfo).port;
  app = await startTestApp({ WEBHOOK_ALLOW: 'loopback' }, { webhookTransport: transport });
}, 120_000);

afterAll(async () => {
  await app?.stop();
  await new Promise<void>((r) => (receiver ? receiver.close(() => r()) : r()));
  if (tmp) fs.rmSync(tmp, { recursive: true, force: true });
}, 60_000);

const deliveries = async (jobId: string) =>
  (await app.pool.query('SELECT * FROM webhook_deliveries WHERE job_id = $1 ORDER BY event_type', [jobId])).rows;

test('a completed job is announced once, signed, after a retry with the same webhook-id', async () => {
  const u = await app.user('premium');
  const { secret } = await adminJson(['webhook-secret', 'rotate', '--user', u.userId]);
  expect(secret).toMatch(/^whsec_[A-Za-z0-9+/]{43}=$/);
  received.length = 0;
  script = [500]; // the receiver fails once: Temporal retries the activity
  const res = await submitFile(app.url, u.apiKey, file, { webhookUrl: `http://hooks.test:${port}/fs-hook` });
  expect(res.status).toBe(202);
  const { id } = (await res.json()) as { id: string };
  const job = await waitForJob(app.url, u.apiKey, id);
  expect(job.status).toBe('completed');

  const rows = await until('the delivery to succeed', async () => (await deliveries(id)).find((d) => d.delivered_at));
  expect(received.map((r) => r.status)).toEqual([500, 204]);
  expect(new Set(received.map((r) => r.headers['webhook-id'])).size).toBe(1);
  const payload = new Webhook(secret).verify(received[1].body, received[1].headers) as Record<string, any>;
  expect(payload.type).toBe('job.completed');
  expect(payload.data).toMatchObject({ id, status: 'completed', text: expect.stringMatching(/fellow Americans/i) });
  expect(rows).toMatchObject({ event_type: 'job.completed', attempts: 2, last_status: 204, refused_at: null });
  expect(connects.every((a) => a === '127.0.0.1')).toBe(true);

  // Running the delivery again (a replay, a reset) sends nothing more: success is recorded once.
  const again = await app.api.temporal.workflow.execute('webhookDeliveryWorkflow', {
    workflowId: `webhook-${id}-completed-again`,
    taskQueue: 'fairscribe-orchestration',
    args: [{ jobId: id, event: 'completed' }],
  });
  expect(again).toBeUndefined();
  expect(received).toHaveLength(2);
}, 180_000);

test('a cancelled job is announced as job.cancelled', async () => {
  const u = await app.user('premium');
  const { secret } = await adminJson(['webhook-secret', 'rotate', '--user', u.userId]);
  received.length = 0;
  const res = await submitFile(app.url, u.apiKey, longFile, { webhookUrl: `http://127.0.0.1:${port}/cancelled` });
  expect(res.status).toBe(202);
  const { id } = (await res.json()) as { id: string };
  const cancel = await fetch(`${app.url}/v1/jobs/${id}/cancel`, { method: 'POST', headers: { authorization: `Bearer ${u.apiKey}` } });
  expect(cancel.status).toBe(202);
  expect((await waitForJob(app.url, u.apiKey, id)).status).toBe('cancelled');
  await until('the cancelled webhook', () => received.length >= 1);
  const payload = new Webhook(secret).verify(received[0].body, received[0].headers) as Record<string, any>;
  expect(payload).toMatchObject({ type: 'job.cancelled', data: { id, status: 'cancelled' } });
}, 180_000);

test('a failed job is announced as job.failed with its error', async () => {
  const u = await app.user('premium');
  const { secret } = await adminJson(['webhook-secret', 'rotate', '--user', u.userId]);
  received.length = 0;
  // A job whose upload is missing: its workflow fails in audio preparation (audio_missing), for real.
  const jobId = crypto.randomUUID();
  await app.pool.query(`INSERT INTO jobs (id, user_id, tier, model, options) VALUES ($1, $2, 'premium', 'whisper-tiny.en', $3)`, [
    jobId,
    u.userId,
    JSON.stringify({ webhookUrl: `http://hooks.test:${port}/failed` }),
  ]);
  const handle = await app.api.temporal.workflow.start('transcriptionWorkflow', {
    workflowId: workflowIdFor(jobId),
    taskQueue: TASK_QUEUES.orchestration,
    args: [{ jobId, userId: u.userId, tier: 'premium', model: 'whisper-tiny.en', modelTier: 'economy', backend: 'cpu', language: 'en', task: 'transcribe', priorityClass: 'interactive', webhook: true }],
  });
  await expect(handle.result()).rejects.toThrow();
  await until('the failed webhook', () => received.length >= 1);
  const payload = new Webhook(secret).verify(received[0].body, received[0].headers) as Record<string, any>;
  expect(payload).toMatchObject({ type: 'job.failed', data: { id: jobId, status: 'failed', error: { code: 'audio_missing' } } });
}, 120_000);

test('a name that does not resolve (a DNS hiccup) is retried, then delivered', async () => {
  const u = await app.user('premium');
  const { secret } = await adminJson(['webhook-secret', 'rotate', '--user', u.userId]);
  received.length = 0;
  const res = await submitFile(app.url, u.apiKey, file, { webhookUrl: `http://a.flaky.test:${port}/dns` });
  expect(res.status).toBe(202);
  const { id } = (await res.json()) as { id: string };
  expect((await waitForJob(app.url, u.apiKey, id)).status).toBe('completed');
  const row = await until('the delivery after the DNS failure', async () => (await deliveries(id)).find((d) => d.delivered_at), 90_000);
  expect(row).toMatchObject({ attempts: 2, refused_at: null, last_status: 204 });
  expect(received).toHaveLength(1);
  const payload = new Webhook(secret).verify(received[0].body, received[0].headers) as Record<string, any>;
  expect(payload).toMatchObject({ type: 'job.completed', data: { id, status: 'completed' } });
}, 180_000);

test('a name that resolves to the metadata address is refused at delivery; the job still completes', async () => {
  const u = await app.user('premium');
  await adminJson(['webhook-secret', 'rotate', '--user', u.userId]);
  received.length = 0;
  connects.length = 0;
  const res = await submitFile(app.url, u.apiKey, file, { webhookUrl: 'http://meta.test/latest/meta-data/' });
  expect(res.status).toBe(202);
  const { id } = (await res.json()) as { id: string };
  expect((await waitForJob(app.url, u.apiKey, id)).status).toBe('completed');
  const row = await until('the refusal to be recorded', async () => (await deliveries(id)).find((d) => d.refused_at));
  expect(row.last_error).toMatch(/refused by policy.*169\.254\.169\.254/);
  expect(row.delivered_at).toBeNull();
  expect(connects).toEqual([]);
  expect(received).toEqual([]);
  // The owner sees on the job that its webhook was given up on, and why.
  const job = await until('the failure on the job JSON', async () => {
    const j = (await (await fetch(`${app.url}/v1/jobs/${id}`, { headers: { authorization: `Bearer ${u.apiKey}` } })).json()) as any;
    return j.webhook ? j : undefined;
  });
  expect(job.webhook).toEqual({ delivered: false, event: 'job.completed', error: expect.stringMatching(/refused by policy/), attempts: 1 });
}, 180_000);

test('admission refuses what can be judged at once: other schemes, IP literals the policy refuses, no secret', async () => {
  const u = await app.user('premium');
  const noSecret = await submitFile(app.url, u.apiKey, file, { webhookUrl: `http://127.0.0.1:${port}/x` });
  expect(noSecret.status).toBe(400);
  expect(((await noSecret.json()) as any).error.message).toMatch(/webhook-secret rotate/);
  await adminJson(['webhook-secret', 'rotate', '--user', u.userId]);
  for (const url of ['ftp://hooks.test/x', 'http://169.254.169.254/latest/meta-data/', 'http://10.0.0.1/', 'http://[::ffff:10.0.0.1]/', 'not a url']) {
    const res = await submitFile(app.url, u.apiKey, file, { webhookUrl: url });
    const body = (await res.json()) as any;
    expect({ url, status: res.status, code: body.error?.code }).toEqual({ url, status: 400, code: 'invalid_request' });
  }
  const { rows } = await app.pool.query('SELECT count(*)::int AS n FROM jobs WHERE user_id = $1', [u.userId]);
  expect(rows[0].n).toBe(0);
}, 60_000);
