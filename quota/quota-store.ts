/**
 * The Redis side of quotas: atomic reserve and settle scripts (quota/lua, BullMQ-style, loaded once
 * per connection with ioredis `defineCommand`) and the rebuild from the Postgres ledger.
 */
import * as fs from 'node:fs';
import * as path from 'node:path';
import type { Redis } from 'ioredis';
import { DAY_KEY_TTL_SECONDS, QUOTA_PREFIX, quotaKeys } from './keys';

const LUA_DIR = path.join(__dirname, 'lua');

type Reply = [number, number];
interface QuotaCommands {
  fsReserve(k1: string, k2: string, k3: string, ...argv: (string | number)[]): Promise<Reply>;
  fsSettle(k1: string, k2: string, k3: string, ...argv: (string | number)[]): Promise<Reply>;
}

export type ReserveOutcome =
  | { ok: true; usedSeconds: number }
  | { ok: false; reason: 'quota_exceeded'; usedSeconds: number }
  | { ok: false; reason: 'concurrency_limit'; activeJobs: number };

export interface OpenReservation {
  userId: string;
  jobId: string;
  day: string;
  seconds: number;
}

/** Thrown when Redis cannot be reached: admission fails closed (503 quota_unavailable). */
export class QuotaUnavailableError extends Error {}

export class QuotaStore {
  private readonly redis: Redis & QuotaCommands;

  constructor(redis: Redis) {
    // defineCommand sends EVALSHA and falls back to EVAL once per connection: the scripts load once.
    redis.defineCommand('fsReserve', { numberOfKeys: 3, lua: fs.readFileSync(path.join(LUA_DIR, 'reserve-3.lua'), 'utf8') });
    redis.defineCommand('fsSettle', { numberOfKeys: 3, lua: fs.readFileSync(path.join(LUA_DIR, 'settle-3.lua'), 'utf8') });
    this.redis = redis as Redis & QuotaCommands;
  }

  private async guard<T>(op: () => Promise<T>): Promise<T> {
    try {
      return await op();
    } catch (err) {
      throw new QuotaUnavailableError(`quota store unavailable: ${(err as Error).message}`);
    }
  }

  /**
   * Reserves `seconds` of the user's day and one concurrency slot for `jobId`, atomically.
   * @param dailyLimit seconds per UTC day, or null for unlimited
   * @throws QuotaUnavailableError when Redis is unreachable
   */
  async reserve(r: OpenReservation, dailyLimit: number | null, concurrentLimit: number): Promise<ReserveOutcome> {
    const [status, used] = await this.guard(() =>
      this.redis.fsReserve(
        quotaKeys.day(r.userId, r.day),
        quotaKeys.active(r.userId),
        quotaKeys.job(r.userId, r.jobId),
        r.jobId,
        r.seconds,
        dailyLimit ?? -1,
        concurrentLimit,
        r.userId,
        r.day,
        DAY_KEY_TTL_SECONDS,
      ),
    );
    if (status === 1) return { ok: true, usedSeconds: used };
    if (status === -2) return { ok: false, reason: 'concurrency_limit', activeJobs: used };
    return { ok: false, reason: 'quota_exceeded', usedSeconds: used };
  }

  /** Keeps `billedSeconds` on the job's day, returns the rest and frees its slot. Idempotent. */
  async settle(r: Omit<OpenReservation, 'seconds'>, billedSeconds: number): Promise<{ settled: boolean; refunded: number }> {
    const [settled, refunded] = await this.guard(() =>
      this.redis.fsSettle(
        quotaKeys.day(r.userId, r.day),
        quotaKeys.active(r.userId),
        quotaKeys.job(r.userId, r.jobId),
        r.jobId,
        Math.max(0, Math.round(billedSeconds)),
      ),
    );
    return { settled: settled === 1, refunded };
  }

  /** Seconds used on a day and active jobs, as Redis sees them. */
  async usage(userId: string, day: string): Promise<{ usedSeconds: number; activeJobs: number }> {
    const [used, active] = await this.guard(() =>
      Promise.all([this.redis.get(quotaKeys.day(userId, day)), this.redis.scard(quotaKeys.active(userId))]),
    );
    return { usedSeconds: Number(used ?? 0), activeJobs: active };
  }

  /** True when the counters were rebuilt since Redis last lost its data. */
  async isBuilt(): Promise<boolean> {
    return (await this.guard(() => this.redis.exists(quotaKeys.built()))) === 1;
  }

  /**
   * Replaces every quota key with the state Postgres gives: today's used seconds per user and the open
   * reservations. Admissions racing a rebuild may be counted twice or not at all: run it when Redis
   * restarted empty or on an operator's request, not as routine.
   */
  async rebuild(dayUsage: { userId: string; day: string; seconds: number }[], open: OpenReservation[]): Promise<void> {
    await this.guard(async () => {
      const stale: string[] = [];
      let cursor = '0';
      do {
        const [next, keys] = await this.redis.scan(cursor, 'MATCH', `${QUOTA_PREFIX}*`, 'COUNT', 500);
        stale.push(...keys);
        cursor = next;
      } while (cursor !== '0');
      const tx = this.redis.multi();
      if (stale.length) tx.del(...stale);
      for (const u of dayUsage) tx.set(quotaKeys.day(u.userId, u.day), u.seconds, 'EX', DAY_KEY_TTL_SECONDS);
      for (const r of open) {
        tx.sadd(quotaKeys.active(r.userId), r.jobId);
        tx.hset(quotaKeys.job(r.userId, r.jobId), 'user', r.userId, 'day', r.day, 'seconds', r.seconds);
      }
      tx.set(quotaKeys.built(), new Date().toISOString());
      await tx.exec();
    });
  }
}
