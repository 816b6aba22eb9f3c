/**
 * QuotaService's own face (quota/quota-service.ts) on a real Postgres and a Redis of its own, without
 * the app: `usage` (ledger) and `counters` (Redis) agree; `extend` (privacy mode's cloud fallback)
 * raises a reservation within the day's limit and changes nothing when it refuses; `releaseUncommitted`
 * takes back a Redis reservation whose ledger row rolled back. These run the Lua scripts as
 * quota/lua-commands.ts assembles them (includes expanded), so a broken include fails here too.
 */
import * as crypto from 'node:crypto';
import * as fs from 'node:fs';
import * as os from 'node:os';
import * as path from 'node:path';
import { Pool } from 'pg';
import { createRedis, redisReady, REDIS_COMMAND_TIMEOUT_MS } from '../../common/redis';
import { DEFAULT_TIERS, type TierLimits } from '../../common/tiers';
import { freePort, startRedis, type RedisHandle } from '../../infra/services';
import { nextUtcMidnight, utcDay } from '../../quota/keys';
import { QuotaService } from '../../quota/quota-service';
import { freshDatabase } from '../helpers/harness';

let tmp: string;
let redis: RedisHandle;
let pool: Pool;
let redisClient: ReturnType<typeof createRedis>;
let quota: QuotaService;

/** 100 s a day, 2 jobs at once. */
const LIMITS: TierLimits = { ...DEFAULT_TIERS.standard, dailySeconds: 100, concurrentJobs: 2 };

beforeAll(async () => {
  tmp = fs.mkdtempSync(path.join(os.tmpdir(), 'fs-quota-service-'));
  redis = await startRedis({ port: await freePort(), dir: path.join(tmp, 'redis') });
  pool = new Pool({ connectionString: await freshDatabase() });
  redisClient = createRedis(redis.url);
  await redisReady(redisClient);
  quota = new QuotaService(pool, redisClient);
  await quota.rebuildIfEmpty();
}, 60_000);

afterAll(async () => {
  redisClient?.disconnect();
  await pool?.end();
  await redis?.stop();
  if (tmp) fs.rmSync(tmp, { recursive: true, force: true });
}, 30_000);

async function newUser(): Promise<string> {
  const id = crypto.randomUUID();
  await pool.query(`INSERT INTO users (id, name, tier) VALUES ($1, 'quota-service test', 'standard')`, [id]);
  return id;
}

/** Reserves `seconds` for a new job in a committed transaction, as admission does. */
async function reserve(userId: string, seconds: number) {
  const jobId = crypto.randomUUID();
  const tx = await pool.connect();
  try {
    await tx.query('BEGIN');
    const outcome = await quota.reserve(tx, { userId, jobId, seconds }, LIMITS);
    await tx.query(outcome.ok ? 'COMMIT' : 'ROLLBACK');
    return { jobId, outcome };
  } finally {
    tx.release();
  }
}

test('usage (ledger) and counters (Redis) agree through reserve and settle', async () => {
  const userId = await newUser();
  const day = utcDay();
  const { jobId, outcome } = await reserve(userId, 29.2);
  expect(outcome).toMatchObject({ ok: true, usedSeconds: 30, day });
  expect(await quota.usage(userId, day)).toEqual({ reservedSeconds: 30, billedSeconds: 0, activeJobs: 1 });
  expect(await quota.counters(userId, day)).toEqual({ usedSeconds: 30, activeJobs: 1 });
  expect(await quota.settle(jobId, 12)).toEqual({ charged: 12, refunded: 18 });
  expect(await quota.usage(userId, day)).toEqual({ reservedSeconds: 12, billedSeconds: 12, activeJobs: 0 });
  expect(await quota.counters(userId, day)).toEqual({ usedSeconds: 12, activeJobs: 0 });
});

test('extend raises an open reservation within the daily limit, idempotently, on both sides', async () => {
  const userId = await newUser();
  const day = utcDay();
  const { jobId } = await reserve(userId, 0); // an edge job: 0 s and its slot
  expect(await quota.extend(jobId, 40.5, LIMITS.dailySeconds)).toEqual({ ok: true, usedSeconds: 41 });
  expect(await quota.extend(jobId, 40.5, LIMITS.dailySeconds)).toEqual({ ok: true, usedSeconds: 41 }); // retry: no change
  expect(await quota.usage(userId, day)).toEqual({ reservedSeconds: 41, billedSeconds: 0, activeJobs: 1 });
  expect(await quota.counters(userId, day)).toEqual({ usedSeconds: 41, activeJobs: 1 });
  // Settling refunds what extend added: the ledger row held the raised total.
  expect(await quota.settle(jobId, 0)).toEqual({ charged: 0, refunded: 41 });
  expect(await quota.counters(userId, day)).toEqual({ usedSeconds: 0, activeJobs: 0 });
});

test('extend past the daily limit refuses with the day and its reset, and changes neither side', async () => {
  const userId = await newUser();
  const day = utcDay();
  await reserve(userId, 70);
  const { jobId } = await reserve(userId, 0);
  const refused = await quota.extend(jobId, 31, LIMITS.dailySeconds);
  expect(refused).toEqual({ ok: false, reason: 'quota_exceeded', usedSeconds: 70, resetAt: nextUtcMidnight(new Date(`${day}T00:00:00Z`)) });
  expect(await quota.usage(userId, day)).toEqual({ reservedSeconds: 70, billedSeconds: 0, activeJobs: 2 });
  expect(await quota.counters(userId, day)).toEqual({ usedSeconds: 70, activeJobs: 2 });
  // Exactly the limit fits; unlimited (null) always does.
  expect(await quota.extend(jobId, 30, LIMITS.dailySeconds)).toEqual({ ok: true, usedSeconds: 100 });
  expect(await quota.extend(jobId, 500, null)).toEqual({ ok: true, usedSeconds: 570 });
});

test('extend of a settled or unknown job answers no_reservation and changes nothing', async () => {
  const userId = await newUser();
  const day = utcDay();
  const { jobId } = await reserve(userId, 5);
  await quota.settle(jobId, 5);
  expect(await quota.extend(jobId, 50, null)).toEqual({ ok: false, reason: 'no_reservation' });
  expect(await quota.extend(crypto.randomUUID(), 50, null)).toEqual({ ok: false, reason: 'no_reservation' });
  expect(await quota.usage(userId, day)).toEqual({ reservedSeconds: 5, billedSeconds: 5, activeJobs: 0 });
  expect(await quota.counters(userId, day)).toEqual({ usedSeconds: 5, activeJobs: 0 });
});

test('releaseUncommitted takes back a reservation whose ledger row rolled back', async () => {
  const userId = await newUser();
  const day = utcDay();
  const jobId = crypto.randomUUID();
  const tx = await pool.connect();
  let reservedDay: string;
  try {
    await tx.query('BEGIN');
    const outcome = await quota.reserve(tx, { userId, jobId, seconds: 20.5 }, LIMITS);
    expect(outcome.ok).toBe(true);
    reservedDay = outcome.day;
    await tx.query('ROLLBACK'); // e.g. the job row's INSERT failed after Redis said yes
  } finally {
    tx.release();
  }
  expect(await quota.counters(userId, day)).toEqual({ usedSeconds: 21, activeJobs: 1 });
  await quota.releaseUncommitted({ userId, jobId, day: reservedDay, seconds: 20.5 });
  await quota.releaseUncommitted({ userId, jobId, day: reservedDay, seconds: 20.5 }); // idempotent
  expect(await quota.counters(userId, day)).toEqual({ usedSeconds: 0, activeJobs: 0 });
  expect(await quota.usage(userId, day)).toEqual({ reservedSeconds: 0, billedSeconds: 0, activeJobs: 0 });
});

test('a reply that arrived while this process was held up past the command timeout is taken, not read as Redis down', async () => {
  // Under load (50 uploads probed at once on 2 cores) the API's event loop can stall longer than
  // REDIS_COMMAND_TIMEOUT_MS; Redis answered at once, and the reply waits in the socket. ioredis's own
  // commandTimeout fired first there (503 quota_unavailable); common/redis.ts lets the reply be read.
  const userId = await newUser();
  const reply = quota.counters(userId, utcDay());
  const until = Date.now() + REDIS_COMMAND_TIMEOUT_MS + 500;
  while (Date.now() < until) {
    // busy: no timer, no socket read
  }
  await expect(reply).resolves.toEqual({ usedSeconds: 0, activeJobs: 0 });
});
