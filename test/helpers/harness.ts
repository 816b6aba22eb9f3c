/**
 * An in-process fairscribe for integration tests: a fresh database on the run's Postgres, the
 * orchestration and CPU workers, and the API on a free port — against the real services that
 * global setup started.
 */
import * as crypto from 'node:crypto';
import * as fs from 'node:fs';
import * as path from 'node:path';
import { Client as PgClient, type Pool } from 'pg';
import { loadConfig, type Config } from '../../common/config';
import type { Backend, Tier } from '../../common/constants';
import { migrate } from '../../common/db';
import { openDeps, type Deps } from '../../common/deps';
import { createUser } from '../../common/keys';
import { startApi, type ApiServer } from '../../api/server';
import { TEST_NAMESPACE_COUNT } from './global-setup';
import type { WebhookTransport } from '../../webhooks/deliver';
import { startInferenceWorker, startOrchestrationWorker, type WorkerHandle } from '../../workers/factory';

export interface TestStackInfo {
  root: string;
  databaseUrl: string;
  redisUrl: string;
  temporalAddress: string;
}

export function stackInfo(): TestStackInfo {
  const raw = process.env.FAIRSCRIBE_TEST_STACK;
  if (!raw) throw new Error('integration tests need the services from test/helpers/global-setup.ts (run through jest)');
  return JSON.parse(raw);
}

/** Creates an empty database on the test Postgres and migrates it. */
export async function freshDatabase(): Promise<string> {
  const { databaseUrl } = stackInfo();
  const name = `t_${crypto.randomBytes(6).toString('hex')}`;
  const admin = new PgClient({ connectionString: databaseUrl });
  await admin.connect();
  await admin.query(`CREATE DATABASE ${name}`);
  await admin.end();
  const url = new URL(databaseUrl);
  url.pathname = `/${name}`;
  await migrate(url.toString());
  return url.toString();
}

export interface TestApp {
  url: string;
  config: Config;
  pool: Pool;
  deps: Deps;
  api: ApiServer;
  workers: WorkerHandle[];
  /** A user of the tier with a fresh key. */
  user(tier?: Tier): Promise<{ userId: string; apiKey: string }>;
  stop(): Promise<void>;
}

export interface TestAppOptions {
  /**
   * Models the CPU inference worker loads before polling (default: whisper-tiny.en). `[]` loads none,
   * for a models folder whose files are broken on purpose (the worker would fail at start-up).
   */
  preload?: string[];
  /** more inference workers in-process, e.g. a gpu-spot worker with its own (broken) models folder */
  extraWorkers?: { backend: Backend; env?: Record<string, string>; preload?: string[] }[];
  /** how webhooks reach the network (a resolver and connect guard that keep every packet local) */
  webhookTransport?: WebhookTransport;
}

/** The config fields a worker's own env sets (only WHISPER_MODELS_DIR for now). */
function configOverrides(env: Record<string, string>): Partial<Config> {
  return env.WHISPER_MODELS_DIR ? { modelsDir: path.resolve(env.WHISPER_MODELS_DIR) } : {};
}

export async function startTestApp(env: Record<string, string> = {}, opts: TestAppOptions = {}): Promise<TestApp> {
  const info = stackInfo();
  const databaseUrl = await freshDatabase();
  const blobDir = path.join(info.root, `blobs-${crypto.randomBytes(4).toString('hex')}`);
  const config = loadConfig({
    ...process.env,
    DATABASE_URL: databaseUrl,
    REDIS_URL: info.redisUrl,
    TEMPORAL_ADDRESS: info.temporalAddress,
    TEMPORAL_NAMESPACE: claimNamespace(info.root),
    BLOB_DIR: blobDir,
    API_PORT: '0',
    ...env,
  });
  const deps = await openDeps(config);
  const { pool } = deps;
  const workers: WorkerHandle[] = [];
  let api: ApiServer;
  try {
    workers.push(await startOrchestrationWorker(config, pool, deps.quota, {}, opts.webhookTransport));
    workers.push(await startInferenceWorker(config, pool, 'cpu', { preload: opts.preload ?? ['whisper-tiny.en'] }));
    for (const w of opts.extraWorkers ?? []) {
      const wConfig = { ...config, ...configOverrides(w.env ?? {}) };
      workers.push(await startInferenceWorker(wConfig, pool, w.backend, { preload: w.preload ?? [] }));
    }
    api = await startApi(config, deps);
  } catch (err) {
    // Leave nothing polling a server that the run is about to stop.
    await Promise.all(workers.map((w) => w.stop()));
    await deps.close();
    throw err;
  }
  return {
    url: api.url,
    config,
    pool,
    deps,
    api,
    workers,
    user: (tier = 'premium') => createUser(pool, tier, `test-${tier}`),
    async stop() {
      // Test files share one Temporal server and the task queue names: a workflow this app left
      // running would be picked up by the next file's workers (with another database) and hog them.
      await terminateRunningWorkflows(api);
      await api.close();
      await Promise.all(workers.map((w) => w.stop()));
      await deps.close();
      fs.rmSync(blobDir, { recursive: true, force: true });
    },
  };
}

/** The next unused namespace of those global setup created (a marker file per claim, across test files). */
function claimNamespace(root: string): string {
  for (let i = 0; i < TEST_NAMESPACE_COUNT; i++) {
    try {
      fs.writeFileSync(path.join(root, `namespace-${i}.claimed`), '', { flag: 'wx' });
      return `fs-test-${i}`;
    } catch {
      // taken
    }
  }
  throw new Error(`all ${TEST_NAMESPACE_COUNT} test namespaces are in use; raise TEST_NAMESPACE_COUNT`);
}

/** Terminates every running workflow on the test server (files run one at a time). */
async function terminateRunningWorkflows(api: ApiServer): Promise<void> {
  const handles = [];
  for await (const wf of api.temporal.workflow.list({ query: 'ExecutionStatus="Running"' })) {
    handles.push(api.temporal.workflow.getHandle(wf.workflowId, wf.runId).terminate('test app stopped').catch(() => undefined));
  }
  await Promise.all(handles);
}

/**
 * The environment a child process (worker, API replica) needs to join a test app: its database, Redis,
 * Temporal namespace and blob directory, on top of this process's environment.
 */
/**
 * Job folders in the app's blob store, sorted (each admitted job has one until its audio is deleted).
 * Tests that check "nothing left" compare names, not counts: another test's job in the same app may delete
 * its folder at any moment.
 */
export function blobFolders(app: Pick<TestApp, 'config'>): string[] {
  return fs.existsSync(app.config.blobDir) ? fs.readdirSync(app.config.blobDir).sort() : [];
}

export function appProcessEnv(app: TestApp): NodeJS.ProcessEnv {
  return {
    ...process.env,
    DATABASE_URL: app.config.databaseUrl,
    REDIS_URL: app.config.redisUrl,
    TEMPORAL_ADDRESS: app.config.temporalAddress,
    TEMPORAL_NAMESPACE: app.config.temporalNamespace,
    BLOB_DIR: app.config.blobDir,
  };
}

/** Polls a job until it reaches a terminal status. */
export async function waitForJob(
  url: string,
  apiKey: string,
  jobId: string,
  timeoutMs = 120_000,
): Promise<Record<string, any>> {
  const deadline = Date.now() + timeoutMs;
  // Polls quickly at first, then every 2 s: a free-tier key has 60 requests a minute, and a test that
  // spends them on polling gets 429s; on one it waits as Retry-After says.
  let interval = 250;
  for (;;) {
    const res = await fetch(`${url}/v1/jobs/${jobId}`, { headers: { authorization: `Bearer ${apiKey}` } });
    const body = (await res.json()) as Record<string, any>;
    if (['completed', 'failed', 'cancelled', 'expired'].includes(body.status)) return body;
    if (Date.now() > deadline) throw new Error(`job ${jobId} still ${body.status ?? JSON.stringify(body)} after ${timeoutMs} ms`);
    const wait = res.status === 429 ? Math.min(5_000, 1000 * Number(res.headers.get('retry-after') ?? 1)) : interval;
    await new Promise((r) => setTimeout(r, wait));
    interval = Math.min(2_000, interval * 1.5);
  }
}

/**
 * POSTs a file to /v1/jobs (submitFile), expects 202 and waits for the job's end (waitForJob).
 * @returns the job JSON in its terminal status
 * @throws a Jest assertion error when the submit is not accepted; waitForJob's timeout
 */
export async function submitAndWait(
  url: string,
  apiKey: string,
  file: string | { name: string; data: Uint8Array },
  fields: Record<string, string> = {},
  timeoutMs = 120_000,
): Promise<Record<string, any>> {
  const res = await submitFile(url, apiKey, file, fields);
  expect(res.status).toBe(202);
  return waitForJob(url, apiKey, ((await res.json()) as { id: string }).id, timeoutMs);
}

/** POSTs a file to /v1/jobs as multipart. */
export async function submitFile(
  url: string,
  apiKey: string,
  file: string | { name: string; data: Uint8Array },
  fields: Record<string, string> = {},
): Promise<Response> {
  const form = new FormData();
  for (const [k, v] of Object.entries(fields)) form.append(k, v);
  if (typeof file === 'string') {
    form.append('file', new Blob([fs.readFileSync(file)]), path.basename(file));
  } else {
    form.append('file', new Blob([file.data]), file.name);
  }
  return fetch(`${url}/v1/jobs`, { method: 'POST', body: form, headers: { authorization: `Bearer ${apiKey}` } });
}
