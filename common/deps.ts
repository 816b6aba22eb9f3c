/**
 * The connections a process holds, opened once at start-up from the parsed config: Postgres (migrated),
 * Redis, and the quota service (Redis rebuilt from the ledger when it came back empty).
 */
import type { Pool } from 'pg';
import type { Redis } from 'ioredis';
import type { Config } from './config';
import { createPool, migrate } from './db';
import { createRedis, redisReady } from './redis';
import { QuotaService } from '../quota/quota-service';

export interface Deps {
  pool: Pool;
  redis: Redis;
  quota: QuotaService;
  close(): Promise<void>;
}

export async function openDeps(config: Config): Promise<Deps> {
  await migrate(config.databaseUrl);
  const pool = createPool(config.databaseUrl);
  const redis = createRedis(config.redisUrl);
  const quota = new QuotaService(pool, redis);
  try {
    await redisReady(redis);
    await quota.rebuildIfEmpty();
  } catch (err) {
    await pool.end();
    redis.disconnect();
    throw err;
  }
  return {
    pool,
    redis,
    quota,
    async close() {
      redis.disconnect();
      await pool.end();
    },
  };
}
