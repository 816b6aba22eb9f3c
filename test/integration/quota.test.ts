/**
 * Quotas on the real stack (Postgres ledger, Redis counters, Temporal workflows): admission under
 * concurrency is exact, a job is charged its billed seconds once, failure and cancellation give
 * everything back, and after Redis loses its data `quota rebuild` brings the counters back to what the
 * ledger says.
 *
 * The orchestration worker can be paused (stopped, later replaced) so that an admitted job cannot end
 * and free its slot while a burst of submissions is still being decided: the counts are then exact,
 * not a matter of timing.
 */
import * as crypto from 'node:crypto';
import * as fs from 'node:fs';
import * as os from 'node:os';
import * as path from 'node:path';
import { execFileSync } from 'node:child_process';
import { TASK_QUEUES, workflowIdFor } from '../../common/constants';
import { redisReady } from '../../common/redis';
import { DEFAULT_TIERS, type TierLimits } from '../../common/tiers';
import type { Tier } from '../../common/constants';
import { createQuotaActivities } from '../../activities/quota';
import { freePort, startRedis, type RedisHandle } from '../../infra/services';
import { utcDay } from '../../quota/keys';
import { startOrchestrationWorker } from '../../workers/factory';
import { blobFolders, startTestApp, submitFile, waitForJob, type TestApp } from '../helpers/harness';
import { brokenModelsDir } from '../helpers/models';

const AUDIO = path.resolve(__dirname, '../../../shared/audio');
const FAST = 100_000; // requests per minute: rate limits stay out of these tests

let tmp: string;
/** jfk as a small MP3 (~11 s), and jfk 16 times over (~3 min) for a job that runs long enough to cancel */
let shortFile: string;
let longFile: string;
/** what admission reserves for the short file: its probed duration, rounded up */
let shortSeconds: number;

beforeAll(() => {
  tmp = fs.mkdtempSync(path.join(os.tmpdir(), 'fs-quota-'));
  const jfk = path.join(AUDIO, 'jfk.flac');
  shortFile = path.join(tmp, 'jfk.mp3');
  longFile = path.join(tmp, 'jfk-x16.mp3');
  execFileSync('ffmpeg', ['-v', 'error', '-y', '-i', jfk, '-ac', '1', '-ar', '16000', '-b:a', '32k', shortFile]);
  execFileSync('ffmpeg', ['-v', 'error', '-y', '-stream_loop', '15', '-i', jfk, '-ac', '1', '-ar', '16000', '-b:a', '24k', longFile]);
  const probed = execFileSync('ffprobe', ['-v', 'error', '-show_entries', 'format=duration', '-of', 'csv=p=0', shortFile]);
  shortSeconds = Math.ceil(Number(String(probed).trim()));
});

afterAll(() => {
  if (tmp) fs.rmSync(tmp, { recursive: true, force: true });
});

function tiersFile(name: string, patch: Partial<Record<Tier, Partial<TierLimits>>>): string {
  const tiers = structuredClone(DEFAULT_TIERS);
  for (const t of Object.keys(tiers) as Tier[]) Object.assign(tiers[t], { requestsPerMinute: FAST }, patch[t] ?? {});
  const file = path.join(tmp, `${name}-tiers.json`);
  fs.writeFileSync(file, JSON.stringify(tiers));
  return file;
}

interface LedgerRow {
  job_id: string;
  kind: 'reserve' | 'charge' | 'refund';
  seconds: number;
  day: string;
}

async function ledgerOf(app: TestApp, where: { userId?: string; jobId?: string }): Promise<LedgerRow[]> {
  const { rows } = await app.pool.query<LedgerRow>(
    `SELECT job_id, kind, seconds, to_char(day, 'YYYY-MM-DD') AS day FROM usage_ledger
      WHERE ($1::uuid IS NULL OR user_id = $1) AND ($2::uuid IS NULL OR job_id = $2) ORDER BY id`,
    [where.userId ?? null, where.jobId ?? null],
  );
  return rows;
}

/** The ledger of one job as {reserve, charge, refund} (absent kinds omitted), checking each appears once. */
async function jobLedger(app: TestApp, jobId: string): Promise<Partial<Record<LedgerRow['kind'], number>>> {
  const rows = await ledgerOf(app, { jobId });
  const out: Partial<Record<LedgerRow['kind'], number>> = {};
  for (const r of rows) {
    expect(out[r.kind]).toBeUndefined();
    out[r.kind] = r.seconds;
  }
  return out;
}

async function jobCount(app: TestApp, userId: string): Promise<number> {
  const { rows } = await app.pool.query('SELECT count(*)::int AS n FROM jobs WHERE user_id = $1', [userId]);
  return rows[0].n;
}


/**
 * Stops the app's orchestration worker (workflows wait in their task queue) and returns a function that
 * starts a new one in its place (the app's stop() then stops that one).
 */
async function pauseOrchestration(app: TestApp): Promise<() => Promise<void>> {
  const i = app.workers.findIndex((w) => w.worker.options.taskQueue === TASK_QUEUES.orchestration);
  expect(i).toBeGreaterThanOrEqual(0);
  await app.workers[i].stop();
  return async () => {
    app.workers[i] = await startOrchestrationWorker(app.config, app.pool, app.deps.quota);
  };
}

/** Waits for the job's workflow to end (its audio is deleted after the job row reads terminal). */
async function workflowEnded(app: TestApp, jobId: string): Promise<void> {
  await app.api.temporal.workflow
    .getHandle(workflowIdFor(jobId))
    .result()
    .catch(() => undefined);
}

async function errorOf(res: Response): Promise<Record<string, any>> {
  const body = (await res.json()) as { error: Record<string, any> };
  return body.error;
}

async function submitAll(app: TestApp, apiKey: string, file: string, n: number) {
  const responses = await Promise.all(Array.from({ length: n }, () => submitFile(app.url, apiKey, file)));
  return Promise.all(
    responses.map(async (res) => ({
      status: res.status,
      retryAfter: res.headers.get('retry-after'),
      body: (await res.json()) as Record<string, any>,
    })),
  );
}

function countBy<T>(xs: T[], key: (x: T) => string): Record<string, number> {
  const out: Record<string, number> = {};
  for (const x of xs) out[key(x)] = (out[key(x)] ?? 0) + 1;
  return out;
}

describe('admission and billing', () => {
  let app: TestApp;

  beforeAll(async () => {
    app = await startTestApp({
      FAIRSCRIBE_TIERS_FILE: tiersFile('main', {
        free: { concurrentJobs: 1 },
        standard: { dailySeconds: 60, concurrentJobs: 100 },
      }),
    });
  }, 120_000);

  afterAll(async () => {
    await app?.stop();
  }, 60_000);

  test('50 concurrent submissions from a free user (1 job at a time): exactly 1 admitted, 49 × 429, nothing else reserved', async () => {
    const free = await app.user('free');
    const resume = await pauseOrchestration(app);
    let results;
    try {
      results = await submitAll(app, free.apiKey, shortFile, 50);
    } finally {
      await resume();
    }
    const counts = countBy(results, (r) => `${r.status} ${r.body.error?.code ?? r.body.status}`);
    process.stderr.write(`[quota] 50 concurrent (free, 1 slot): ${JSON.stringify(counts)}\n`);
    expect(counts).toEqual({ '202 queued': 1, '429 concurrency_limit': 49 });

    for (const r of results.filter((x) => x.status === 429)) {
      expect(r.body.error).toMatchObject({ code: 'concurrency_limit', limit: 1, used: 1 });
      expect(r.body.error).toHaveProperty('resetAt');
      expect(r.body.error.message.length).toBeGreaterThan(10);
      expect(Number(r.retryAfter)).toBeGreaterThan(0);
    }
    const admitted = results.find((r) => r.status === 202)!.body.id as string;

    // One job row, one reservation, blobs only for the admitted job.
    expect(await jobCount(app, free.userId)).toBe(1);
    const rows = await ledgerOf(app, { userId: free.userId });
    expect(rows.map((r) => [r.job_id, r.kind])).toEqual([[admitted, 'reserve']]);
    expect(rows[0].seconds).toBe(shortSeconds);
    expect(blobFolders(app)).toEqual([admitted]);
    expect(await app.deps.quota.counters(free.userId, rows[0].day)).toEqual({ usedSeconds: shortSeconds, activeJobs: 1 });

    // The admitted job runs to the end and frees its slot.
    const job = await waitForJob(app.url, free.apiKey, admitted);
    expect(job.status).toBe('completed');
    expect(await app.deps.quota.counters(free.userId, rows[0].day)).toEqual({ usedSeconds: job.billedSeconds, activeJobs: 0 });
    await workflowEnded(app, admitted);
    expect(blobFolders(app)).toEqual([]);
  }, 90_000);

  test('30 parallel reservations over the daily limit: the admitted seconds never exceed it', async () => {
    const DAILY = 60;
    const standard = await app.user('standard');
    const resume = await pauseOrchestration(app);
    let results;
    try {
      results = await submitAll(app, standard.apiKey, shortFile, 30);
    } finally {
      await resume();
    }
    const counts = countBy(results, (r) => `${r.status} ${r.body.error?.code ?? r.body.status}`);
    process.stderr.write(`[quota] 30 parallel (daily ${DAILY} s, ${shortSeconds} s each): ${JSON.stringify(counts)}\n`);
    const expectedAdmitted = Math.floor(DAILY / shortSeconds);
    expect(counts).toEqual({ '202 queued': expectedAdmitted, '429 quota_exceeded': 30 - expectedAdmitted });

    for (const r of results.filter((x) => x.status === 429)) {
      const e = r.body.error;
      expect(e).toMatchObject({ code: 'quota_exceeded', limit: DAILY });
      expect(e.used).toBeLessThanOrEqual(DAILY);
      expect(e.used + shortSeconds).toBeGreaterThan(DAILY);
      expect(new Date(e.resetAt).toISOString()).toBe(e.resetAt);
      expect(e.resetAt.endsWith('T00:00:00.000Z')).toBe(true);
      expect(Number(r.retryAfter)).toBeGreaterThan(0);
      expect(Number(r.retryAfter)).toBeLessThanOrEqual(24 * 3600);
    }
    const admitted = results.filter((r) => r.status === 202).map((r) => r.body.id as string);

    const rows = await ledgerOf(app, { userId: standard.userId });
    expect(rows.every((r) => r.kind === 'reserve')).toBe(true);
    expect(rows.map((r) => r.job_id).sort()).toEqual([...admitted].sort());
    const reservedSum = rows.reduce((s, r) => s + r.seconds, 0);
    expect(reservedSum).toBeLessThanOrEqual(DAILY);
    expect(await jobCount(app, standard.userId)).toBe(admitted.length);
    expect(blobFolders(app)).toEqual([...admitted].sort());
    const day = rows[0].day;
    expect(await app.deps.quota.counters(standard.userId, day)).toEqual({ usedSeconds: reservedSum, activeJobs: admitted.length });

    // They all complete; the day then holds exactly what was billed, in Redis and in the ledger.
    const jobs = await Promise.all(admitted.map((id) => waitForJob(app.url, standard.apiKey, id)));
    expect(jobs.map((j) => j.status)).toEqual(admitted.map(() => 'completed'));
    const billed = jobs.reduce((s, j) => s + j.billedSeconds, 0);
    expect(billed).toBeLessThanOrEqual(DAILY);
    expect(await app.deps.quota.counters(standard.userId, day)).toEqual({ usedSeconds: billed, activeJobs: 0 });
    expect(await app.deps.quota.usage(standard.userId, day)).toEqual({ reservedSeconds: billed, billedSeconds: billed, activeJobs: 0 });
    await Promise.all(admitted.map((id) => workflowEnded(app, id)));
  }, 90_000);

  test('a completed job is charged its billed seconds exactly once, even when the charge activity runs again', async () => {
    const user = await app.user('premium');
    // Fault injection on the real store: the first Redis settle of this job takes effect and then
    // fails (as if the reply were lost), so Temporal retries settleQuota after a completed charge.
    const store = app.deps.quota.store;
    const original = store.settle;
    const settleCalls: string[] = [];
    store.settle = async function (this: typeof store, r, billed) {
      const out = await original.call(this, r, billed);
      settleCalls.push(r.jobId);
      if (settleCalls.filter((id) => id === r.jobId).length === 1) throw new Error('injected: reply lost after the charge');
      return out;
    };
    let job;
    try {
      const res = await submitFile(app.url, user.apiKey, shortFile);
      expect(res.status).toBe(202);
      const { id } = (await res.json()) as { id: string };
      job = await waitForJob(app.url, user.apiKey, id);
      await workflowEnded(app, id);
    } finally {
      store.settle = original;
    }
    expect(job.status).toBe('completed');
    expect(settleCalls.filter((id) => id === job.id).length).toBeGreaterThanOrEqual(2); // the activity did retry
    // Billed = speech actually sent to inference, rounded up: more than nothing, at most what was reserved.
    expect(job.billedSeconds).toBeGreaterThan(0);
    expect(job.billedSeconds).toBeLessThanOrEqual(shortSeconds);

    const ledger = await jobLedger(app, job.id);
    expect(ledger).toEqual({ reserve: shortSeconds, charge: job.billedSeconds, refund: shortSeconds - job.billedSeconds });
    const [{ day }] = await ledgerOf(app, { jobId: job.id });
    const after = { redis: await store.usage(user.userId, day), ledger: await app.deps.quota.usage(user.userId, day) };
    expect(after).toEqual({
      redis: { usedSeconds: job.billedSeconds, activeJobs: 0 },
      ledger: { reservedSeconds: job.billedSeconds, billedSeconds: job.billedSeconds, activeJobs: 0 },
    });

    // Running the charge again (the service, and the activity itself, with the same or other numbers)
    // returns the first settlement and changes nothing.
    const first = { charged: job.billedSeconds, refunded: shortSeconds - job.billedSeconds };
    expect(await app.deps.quota.settle(job.id, job.billedSeconds)).toEqual(first);
    expect(await app.deps.quota.settle(job.id, 0)).toEqual(first);
    const { settleQuota } = createQuotaActivities({ quota: app.deps.quota });
    expect(await settleQuota({ jobId: job.id, billedSeconds: job.billedSeconds })).toEqual(first);
    expect(await settleQuota({ jobId: job.id, billedSeconds: shortSeconds })).toEqual(first);
    expect(await jobLedger(app, job.id)).toEqual(ledger);
    expect({ redis: await store.usage(user.userId, day), ledger: await app.deps.quota.usage(user.userId, day) }).toEqual(after);
  }, 90_000);

  test("a job cancelled through Temporal's workflow cancellation releases its reservation and ends cancelled", async () => {
    const user = await app.user('premium');
    const res = await submitFile(app.url, user.apiKey, longFile);
    expect(res.status).toBe(202);
    const { id } = (await res.json()) as { id: string };
    const [{ day, seconds: reserved }] = await ledgerOf(app, { jobId: id });
    expect(reserved).toBeGreaterThan(170);
    expect(await app.deps.quota.counters(user.userId, day)).toEqual({ usedSeconds: reserved, activeJobs: 1 });

    // Cancel once it runs (its first chunk started), long before its ~3 minutes of audio are done.
    for (const deadline = Date.now() + 30_000; ; ) {
      const r = await fetch(`${app.url}/v1/jobs/${id}`, { headers: { authorization: `Bearer ${user.apiKey}` } });
      const body = (await r.json()) as Record<string, any>;
      if (body.status === 'running') break;
      expect(body.status).toBe('queued');
      if (Date.now() > deadline) throw new Error('the long job never started running');
      await new Promise((r) => setTimeout(r, 100));
    }
    const handle = app.api.temporal.workflow.getHandle(workflowIdFor(id));
    await handle.cancel();
    const job = await waitForJob(app.url, user.apiKey, id, 60_000);
    expect(job.status).toBe('cancelled');
    expect(job.billedSeconds).toBeNull();
    await workflowEnded(app, id);
    expect((await handle.describe()).status.name).toBe('CANCELLED');

    expect(await jobLedger(app, id)).toEqual({ reserve: reserved, refund: reserved });
    expect(await app.deps.quota.counters(user.userId, day)).toEqual({ usedSeconds: 0, activeJobs: 0 });
    expect(await app.deps.quota.usage(user.userId, day)).toEqual({ reservedSeconds: 0, billedSeconds: 0, activeJobs: 0 });
    expect(fs.existsSync(path.join(app.config.blobDir, id))).toBe(false);
  }, 90_000);
});

describe('a job failing in transcribeChunk', () => {
  let app: TestApp;

  beforeAll(async () => {
    // whisper-tiny.en with an empty encoder: installed as far as the API can tell, unloadable by the worker.
    const models = brokenModelsDir(tmp);
    app = await startTestApp({ FAIRSCRIBE_TIERS_FILE: tiersFile('broken', {}), WHISPER_MODELS_DIR: models }, { preload: [] });
  }, 120_000);

  afterAll(async () => {
    await app?.stop();
  }, 60_000);

  test('fails with an error and releases its whole reservation', async () => {
    const user = await app.user('free');
    const res = await submitFile(app.url, user.apiKey, shortFile);
    expect(res.status).toBe(202);
    const { id } = (await res.json()) as { id: string };
    // transcribeChunk is retried (5 attempts, ~15 s of backoff) before the job fails.
    const job = await waitForJob(app.url, user.apiKey, id, 90_000);
    expect(job.status).toBe('failed');
    expect(job.error).toMatchObject({ code: 'inference_failed' });
    expect(job.error.message).toMatch(/inference failed/);
    // onnxruntime's own words (server paths, source locations) stay in the worker's log.
    expect(job.error.message).not.toMatch(/\/|onnx|0x[0-9a-f]{6,}/i);
    expect(job.billedSeconds).toBeNull();
    await workflowEnded(app, id);

    const [{ day }] = await ledgerOf(app, { jobId: id });
    expect(await jobLedger(app, id)).toEqual({ reserve: shortSeconds, refund: shortSeconds });
    expect(await app.deps.quota.counters(user.userId, day)).toEqual({ usedSeconds: 0, activeJobs: 0 });
    expect(await app.deps.quota.usage(user.userId, day)).toEqual({ reservedSeconds: 0, billedSeconds: 0, activeJobs: 0 });
    expect(fs.existsSync(path.join(app.config.blobDir, id))).toBe(false);
    // The slot is free again: the free user (1 job at a time) is admitted at once.
    const again = await submitFile(app.url, user.apiKey, shortFile);
    expect(again.status).toBe(202);
    const second = (await again.json()) as { id: string };
    await app.api.temporal.workflow.getHandle(workflowIdFor(second.id)).terminate('test over');
    await app.deps.quota.settle(second.id, 0);
  }, 120_000);
});

describe('Redis killed and restarted during a run of jobs', () => {
  let app: TestApp;
  let redis: RedisHandle;
  let redisPort: number;
  let redisDir: string;

  beforeAll(async () => {
    redisPort = await freePort();
    redisDir = path.join(tmp, 'redis');
    redis = await startRedis({ port: redisPort, dir: redisDir });
    app = await startTestApp({
      FAIRSCRIBE_TIERS_FILE: tiersFile('redis', { standard: { dailySeconds: 600, concurrentJobs: 3 } }),
      REDIS_URL: redis.url,
    });
  }, 120_000);

  afterAll(async () => {
    await app?.stop();
    await redis?.stop();
  }, 60_000);

  test('a submission meanwhile answers 503 and leaves nothing; after quota rebuild Redis equals the ledger', async () => {
    const users = [await app.user('premium'), await app.user('standard')];
    const plan = [users[0], users[0], users[0], users[1], users[1]];
    const admitted = await Promise.all(
      plan.map(async (u) => {
        const res = await submitFile(app.url, u.apiKey, shortFile);
        expect(res.status).toBe(202);
        return { id: ((await res.json()) as { id: string }).id, user: u };
      }),
    );
    const day = utcDay();

    await redis.stop();

    // Fail closed: 503 quota_unavailable with Retry-After, no job row, no ledger row, no blob.
    const res = await submitFile(app.url, users[1].apiKey, shortFile);
    expect(res.status).toBe(503);
    expect(Number(res.headers.get('retry-after'))).toBeGreaterThan(0);
    expect(await errorOf(res)).toMatchObject({ code: 'quota_unavailable' });
    const { rows } = await app.pool.query('SELECT count(*)::int AS n FROM jobs');
    expect(rows[0].n).toBe(admitted.length);
    expect(blobFolders(app).every((d) => admitted.some((a) => a.id === d))).toBe(true);

    // Let at least one job reach its charge while Redis is down (the ledger takes it; the Redis half
    // fails and the activity retries).
    for (const deadline = Date.now() + 90_000; ; ) {
      const { rows: r } = await app.pool.query(`SELECT count(*)::int AS n FROM usage_ledger WHERE kind = 'refund'`);
      if (r[0].n > 0) break;
      if (Date.now() > deadline) throw new Error('no job reached its charge while Redis was down');
      await new Promise((r) => setTimeout(r, 100));
    }
    expect((await ledgerOf(app, {})).filter((r) => r.kind === 'reserve').length).toBe(admitted.length);

    // Restart on the same port, empty; the counters are gone until rebuilt.
    redis = await startRedis({ port: redisPort, dir: redisDir });
    await redisReady(app.deps.redis, 15_000);
    const lost = await Promise.all(users.map((u) => app.deps.quota.counters(u.userId, day)));
    const rebuilt = await app.deps.quota.rebuild();
    expect(rebuilt.users).toBe(users.length);

    // Redis now equals the ledger for each user (compared on a stable ledger snapshot: a job may
    // settle between the reads).
    let comparison: { ledger: unknown; redis: unknown }[] = [];
    for (let attempt = 0; attempt < 10; attempt++) {
      const before = await Promise.all(users.map((u) => app.deps.quota.usage(u.userId, day)));
      const counters = await Promise.all(users.map((u) => app.deps.quota.counters(u.userId, day)));
      const after = await Promise.all(users.map((u) => app.deps.quota.usage(u.userId, day)));
      comparison = before.map((l, i) => ({
        ledger: { usedSeconds: l.reservedSeconds, activeJobs: l.activeJobs },
        redis: counters[i],
      }));
      if (JSON.stringify(before) === JSON.stringify(after)) break;
      await new Promise((r) => setTimeout(r, 100));
    }
    process.stderr.write(
      `[quota] after restart, before rebuild: ${JSON.stringify(lost)}; rebuild ${JSON.stringify(rebuilt)}; ` +
        `ledger vs redis: ${JSON.stringify(comparison)}\n`,
    );
    for (const c of comparison) expect(c.redis).toEqual(c.ledger);

    // Every job finishes (the charges that failed while Redis was down went through on retry), and
    // each user's day holds exactly the billed seconds, nothing active.
    const jobs = await Promise.all(admitted.map((a) => waitForJob(app.url, a.user.apiKey, a.id, 90_000)));
    expect(jobs.map((j) => j.status)).toEqual(admitted.map(() => 'completed'));
    for (const u of users) {
      const billed = jobs.filter((_, i) => admitted[i].user === u).reduce((s, j) => s + j.billedSeconds, 0);
      const counters = await app.deps.quota.counters(u.userId, day);
      const ledger = await app.deps.quota.usage(u.userId, day);
      process.stderr.write(`[quota] final ${u.userId}: billed ${billed}, redis ${JSON.stringify(counters)}, ledger ${JSON.stringify(ledger)}\n`);
      expect(counters).toEqual({ usedSeconds: billed, activeJobs: 0 });
      expect(ledger).toEqual({ reservedSeconds: billed, billedSeconds: billed, activeJobs: 0 });
    }
  }, 240_000);

  test('after Redis comes back empty, the next admission is metered against the ledger, not against zero', async () => {
    const free = await app.user('free'); // 1 job at a time
    const resume = await pauseOrchestration(app);
    let held: string;
    try {
      const res = await submitFile(app.url, free.apiKey, shortFile);
      expect(res.status).toBe(202);
      held = ((await res.json()) as { id: string }).id; // queued, holding the user's only slot

      await redis.stop();
      redis = await startRedis({ port: redisPort, dir: redisDir });
      await redisReady(app.deps.redis, 15_000);

      // Nobody ran `quota rebuild`: the empty counters must not let a second job in.
      const again = await submitFile(app.url, free.apiKey, shortFile);
      const body = (await again.json()) as { error?: { code: string } };
      expect({ status: again.status, code: body.error?.code }).toEqual({ status: 429, code: 'concurrency_limit' });
      const day = utcDay();
      const ledger = await app.deps.quota.usage(free.userId, day);
      expect(await app.deps.quota.counters(free.userId, day)).toEqual({ usedSeconds: ledger.reservedSeconds, activeJobs: 1 });
      expect(await jobCount(app, free.userId)).toBe(1);
    } finally {
      await resume();
    }
    const job = await waitForJob(app.url, free.apiKey, held, 60_000);
    expect(job.status).toBe('completed');
    expect(await app.deps.quota.counters(free.userId, utcDay())).toEqual({ usedSeconds: job.billedSeconds, activeJobs: 0 });
    await workflowEnded(app, held);
  }, 90_000);
  test('a hung Redis (SIGSTOP) fails admission closed within seconds, readyz says so, and nothing is admitted later', async () => {
    const user = await app.user('standard');
    const jobsBefore = await jobCount(app, user.userId);
    process.kill(redis.pid, 'SIGSTOP');
    try {
      const t0 = Date.now();
      const res = await submitFile(app.url, user.apiKey, shortFile);
      const elapsed = Date.now() - t0;
      expect(res.status).toBe(503);
      expect(await errorOf(res)).toMatchObject({ code: 'quota_unavailable' });
      expect(elapsed).toBeLessThan(20_000);
      const ready = await fetch(`${app.url}/readyz`, { signal: AbortSignal.timeout(10_000) });
      expect(ready.status).toBe(503);
      expect(await ready.json()).toMatchObject({ redis: false, postgres: true });
    } finally {
      process.kill(redis.pid, 'SIGCONT');
    }
    await redisReady(app.deps.redis, 15_000);
    // The refused request left nothing that could be admitted once Redis answers again.
    await new Promise((r) => setTimeout(r, 2_000));
    expect(await jobCount(app, user.userId)).toBe(jobsBefore);
    // The reserve that timed out ran when Redis woke up; the release queued behind it took it back.
    expect(await app.deps.quota.counters(user.userId, utcDay())).toEqual({ usedSeconds: 0, activeJobs: 0 });
    const ready = await fetch(`${app.url}/readyz`);
    expect(ready.status).toBe(200);
  }, 60_000);

  test('a rebuild from a ledger snapshot read before a settlement does not bring the settled reservation back', async () => {
    // The race a rebuild used to lose: it reads the ledger (job open), the job settles (ledger, then
    // Redis), then the rebuild writes its snapshot. The settle's tombstone must win.
    const user = await app.user('standard');
    const jobId = crypto.randomUUID();
    const day = utcDay();
    const tx = await app.pool.connect();
    try {
      await tx.query('BEGIN');
      const outcome = await app.deps.quota.reserve(tx, { userId: user.userId, jobId, seconds: 100 }, { ...DEFAULT_TIERS.standard, dailySeconds: null, concurrentJobs: 10 });
      expect(outcome.ok).toBe(true);
      await tx.query('COMMIT');
    } finally {
      tx.release();
    }
    expect(await app.deps.quota.counters(user.userId, day)).toEqual({ usedSeconds: 100, activeJobs: 1 });

    const snapshot = await app.deps.quota.ledger.state(day);
    expect(snapshot.open.some((o) => o.jobId === jobId)).toBe(true);
    await app.deps.quota.settle(jobId, 30);
    const result = await app.deps.quota.store.rebuild(snapshot.dayUsage, snapshot.open);

    expect(result.skipped).toBeGreaterThanOrEqual(1);
    expect(await app.deps.quota.counters(user.userId, day)).toEqual({ usedSeconds: 30, activeJobs: 0 });
    expect(await app.deps.quota.usage(user.userId, day)).toEqual({ reservedSeconds: 30, billedSeconds: 30, activeJobs: 0 });
    // Settling again (a retried activity) changes nothing.
    await app.deps.quota.settle(jobId, 30);
    expect(await app.deps.quota.counters(user.userId, day)).toEqual({ usedSeconds: 30, activeJobs: 0 });
  }, 30_000);
});
