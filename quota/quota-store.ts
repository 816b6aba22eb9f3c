/**
 * The Redis side of quotas: atomic reserve, extend and settle scripts (quota/lua, loaded BullMQ-style
 * by quota/lua-commands.ts, once per connection with ioredis `defineCommand`) and the rebuild from the
 * Postgres ledger.
 */
import type { Redis } from 'ioredis';
import { DAY_KEY_TTL_SECONDS, QUOTA_PREFIX, quotaKeys } from './keys';
import { defineLuaCommands } from './lua-commands';

type Reply = [number, number];
/** The commands of quota/lua (`<command>-<numberOfKeys>.lua`): KEYS first, then ARGV. */
interface QuotaCommands {
  fsReserve(k1: string, k2: string, k3: string, ...argv: (string | number)[]): Promise<Reply>;
  fsExtend(k1: string, k2: string, k3: string, ...argv: (string | number)[]): Promise<Reply>;
  fsSettle(k1: string, k2: string, k3: string, k4: string, ...argv: (string | number)[]): Promise<Reply>;
  fsRebuild(...argv: (string | number)[]): Promise<Reply>;
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

export type ExtendReply =
  | { ok: true; usedSeconds: number }
  | { ok: false; reason: 'quota_exceeded'; usedSeconds: number }
  | { ok: false; reason: 'no_reservation' };

/** Thrown when Redis cannot be reached: admission fails closed (refused quota_unavailable). */
export class QuotaUnavailableError extends Error {}

export class QuotaStore {
  private readonly redis: Redis & QuotaCommands;

  constructor(redis: Redis) {
    defineLuaCommands(redis);
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

  /**
   * Raises the open reservation of `r.jobId` to `totalSeconds` within the daily limit (extend-3.lua);
   * its concurrency slot is the job's already. Idempotent (an absolute total).
   * @param r the reservation as the ledger holds it (`seconds` is not read: Redis has its own)
   * @param dailyLimit seconds per UTC day, or null for unlimited
   * @throws QuotaUnavailableError when Redis is unreachable
   */
  async extend(r: Omit<OpenReservation, 'seconds'>, totalSeconds: number, dailyLimit: number | null): Promise<ExtendReply> {
    const [status, used] = await this.guard(() =>
      this.redis.fsExtend(
        quotaKeys.day(r.userId, r.day),
        quotaKeys.active(r.userId),
        quotaKeys.job(r.userId, r.jobId),
        r.jobId,
        Math.ceil(totalSeconds),
        dailyLimit ?? -1,
        DAY_KEY_TTL_SECONDS,
      ),
    );
    if (status === 1) return { ok: true, usedSeconds: used };
    if (status === -1) return { ok: false, reason: 'quota_exceeded', usedSeconds: used };
    return { ok: false, reason: 'no_reservation' };
  }

  /**
   * Keeps `billedSeconds` on the job's day, returns the rest and frees its slot, and leaves a tombstone
   * so a concurrent rebuild does not resurrect the reservation. Idempotent.
   * @param r the reservation as the ledger holds it (`seconds` = reserved seconds)
   */
  async settle(r: OpenReservation, billedSeconds: number): Promise<{ settled: boolean; refunded: number }> {
    const [settled, refunded] = await this.guard(() =>
      this.redis.fsSettle(
        quotaKeys.day(r.userId, r.day),
        quotaKeys.active(r.userId),
        quotaKeys.job(r.userId, r.jobId),
        quotaKeys.settled(r.userId, r.jobId),
        r.jobId,
        Math.max(0, Math.round(billedSeconds)),
        r.seconds,
        DAY_KEY_TTL_SECONDS,
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
   * Replaces every quota key with the state Postgres gave: per user and day the net seconds, and the open
   * reservations — in one script, so no reserve or settle interleaves with it. A reservation settled after
   * the snapshot was read is skipped (its tombstone says so) and its refund comes off the day.
   * Admissions whose ledger row committed after the snapshot are not counted: run it when Redis restarted
   * empty (admission waits for it) or on an operator's request, not as routine.
   */
  async rebuild(
    dayUsage: { userId: string; day: string; seconds: number }[],
    open: OpenReservation[],
  ): Promise<{ restored: number; skipped: number }> {
    const [restored, skipped] = await this.guard(() =>
      this.redis.fsRebuild(
        QUOTA_PREFIX,
        JSON.stringify(dayUsage.map((u) => [u.userId, u.day, u.seconds])),
        JSON.stringify(open.map((r) => [r.userId, r.jobId, r.day, r.seconds])),
        DAY_KEY_TTL_SECONDS,
        new Date().toISOString(),
      ),
    );
    return { restored, skipped };
  }
}
