/**
 * Request deduplication: the first request with a key claims it for its job; a retry with the same key
 * and the same request gets that job; the same key with a different request is a conflict.
 * Concurrent duplicates collapse on the table's primary key.
 */
import type { Pool } from 'pg';
import { ApiError } from './errors';

export type Claim = { kind: 'new' } | { kind: 'existing'; jobId: string };

export class IdempotencyStore {
  constructor(private readonly pool: Pool) {}

  /**
   * Claims `key` for `jobId`, or returns the job that holds it.
   * @param ttlSeconds how long the claim holds (an expired one is taken over)
   * @throws ApiError 409 idempotency_conflict when the key holds a different request
   */
  async claim(userId: string, key: string, requestHash: string, jobId: string, ttlSeconds: number): Promise<Claim> {
    for (let attempt = 0; attempt < 2; attempt++) {
      const ins = await this.pool.query(
        `INSERT INTO idempotency_keys (user_id, key, request_hash, job_id, expires_at)
         VALUES ($1, $2, $3, $4, now() + make_interval(secs => $5)) ON CONFLICT DO NOTHING`,
        [userId, key, requestHash, jobId, ttlSeconds],
      );
      if (ins.rowCount) return { kind: 'new' };
      const { rows } = await this.pool.query(
        'SELECT request_hash, job_id, expires_at < now() AS expired FROM idempotency_keys WHERE user_id = $1 AND key = $2',
        [userId, key],
      );
      const held = rows[0];
      if (!held) continue; // released between our insert and select: try again
      if (held.expired) {
        await this.pool.query('DELETE FROM idempotency_keys WHERE user_id = $1 AND key = $2 AND expires_at < now()', [userId, key]);
        continue;
      }
      if (held.request_hash !== requestHash) {
        throw new ApiError(409, 'idempotency_conflict', 'this Idempotency-Key was used for a different request');
      }
      return { kind: 'existing', jobId: held.job_id };
    }
    throw new ApiError(409, 'idempotency_conflict', 'this Idempotency-Key is being claimed by another request; retry');
  }

  /** Gives a key back (its request was refused, so a retry must be able to run). */
  async release(userId: string, key: string, jobId: string): Promise<void> {
    await this.pool.query('DELETE FROM idempotency_keys WHERE user_id = $1 AND key = $2 AND job_id = $3', [userId, key, jobId]);
  }
}
