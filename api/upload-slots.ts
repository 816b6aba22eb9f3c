/**
 * Uploads in flight per user, capped at the tier's `concurrentJobs` and decided *before* the body is
 * read: without it one free key could hold thirty stalled uploads (each a socket and a blob folder).
 * The refusal is the slot check's own: 429 `concurrency_limit` with Retry-After.
 *
 * The count lives in Redis, so it holds across API replicas: a sorted set per user whose members are
 * upload ids scored by a lease expiry. A holder renews its lease while it lives; a replica that dies
 * mid-upload leaves a member that expires by itself (a body idle longer than the idle timeout is cut
 * anyway, so a lease of twice that plus a margin never drops a live upload).
 */
import * as crypto from 'node:crypto';
import type { Redis } from 'ioredis';
import type { Tier } from '../common/constants';
import type { TierLimits } from '../common/tiers';
import { uploadsRefusedTotal } from '../common/metrics';
import { ApiError } from './errors';

const KEY_PREFIX = 'fs:uploads:';
const RETRY_AFTER_S = 30;

/**
 * KEYS[1] the user's set; ARGV: now (ms), member, lease expiry (ms), limit, key TTL (ms).
 * Returns {1, count} when admitted, {0, count} when `limit` uploads are already in flight.
 */
const ACQUIRE_LUA = `
redis.call('ZREMRANGEBYSCORE', KEYS[1], '-inf', ARGV[1])
local n = redis.call('ZCARD', KEYS[1])
if n >= tonumber(ARGV[4]) then return {0, n} end
redis.call('ZADD', KEYS[1], ARGV[3], ARGV[2])
redis.call('PEXPIRE', KEYS[1], ARGV[5])
return {1, n + 1}
`;

/** A held slot: `release` is idempotent. */
export interface UploadSlot {
  release(): Promise<void>;
}

export class UploadSlots {
  private readonly leaseMs: number;

  /** @param idleMs the body idle timeout (ms): a lease outlives any upload that still makes progress */
  constructor(
    private readonly redis: Redis,
    idleMs: number,
  ) {
    this.leaseMs = 2 * idleMs + 30_000;
  }

  /**
   * Takes one of the user's `limits.concurrentJobs` upload slots.
   * @throws ApiError 429 concurrency_limit when all are in flight; 503 quota_unavailable when Redis is unreachable
   */
  async acquire(userId: string, tier: Tier, limits: TierLimits): Promise<UploadSlot> {
    const key = `${KEY_PREFIX}{${userId}}`;
    const member = crypto.randomUUID();
    const now = Date.now();
    let reply: [number, number];
    try {
      reply = (await this.redis.eval(ACQUIRE_LUA, 1, key, now, member, now + this.leaseMs, limits.concurrentJobs, this.leaseMs * 2)) as [number, number];
    } catch {
      throw new ApiError(503, 'quota_unavailable', 'the quota store is unavailable; try again shortly', {}, { 'Retry-After': '5' });
    }
    if (reply[0] !== 1) {
      uploadsRefusedTotal.inc({ tier });
      throw new ApiError(
        429,
        'concurrency_limit',
        `you already have ${reply[1]} upload(s) in progress; your tier allows ${limits.concurrentJobs} at a time`,
        { limit: limits.concurrentJobs, used: reply[1], resetAt: null },
        { 'Retry-After': String(RETRY_AFTER_S) },
      );
    }
    // Renew while held: a slow upload may take longer than one lease.
    const renew = setInterval(() => {
      void this.redis.zadd(key, 'XX', Date.now() + this.leaseMs, member).catch(() => undefined);
    }, this.leaseMs / 3);
    renew.unref();
    let released = false;
    return {
      release: async () => {
        if (released) return;
        released = true;
        clearInterval(renew);
        // If Redis is down now, the lease expires on its own.
        await this.redis.zrem(key, member).catch(() => undefined);
      },
    };
  }
}
