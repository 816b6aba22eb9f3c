/**
 * Raising an open reservation (privacy mode's cloud fallback): the edge job reserved 0 seconds and a
 * concurrency slot; when its audio is uploaded, the audio's seconds are reserved against the daily
 * quota like any admission. Ledger row and Redis counter change together: the ledger's reserve row is
 * set inside a transaction, Redis decides inside it (extend-3.lua), a refusal rolls back.
 */
import * as fs from 'node:fs';
import * as path from 'node:path';
import type { Pool } from 'pg';
import type { Redis } from 'ioredis';
import { DAY_KEY_TTL_SECONDS, nextUtcMidnight, quotaKeys } from './keys';
import { QuotaUnavailableError } from './quota-store';

interface ExtendCommand {
  fsExtend(k1: string, k2: string, k3: string, ...argv: (string | number)[]): Promise<[number, number]>;
}

export type ExtendOutcome =
  | { ok: true; usedSeconds: number }
  | { ok: false; reason: 'quota_exceeded'; usedSeconds: number; resetAt: Date }
  | { ok: false; reason: 'no_reservation' };

export class ReservationExtender {
  private readonly redis: Redis & ExtendCommand;

  constructor(
    private readonly pool: Pool,
    redis: Redis,
  ) {
    redis.defineCommand('fsExtend', { numberOfKeys: 3, lua: fs.readFileSync(path.join(__dirname, 'lua', 'extend-3.lua'), 'utf8') });
    this.redis = redis as Redis & ExtendCommand;
  }

  /**
   * Sets job `jobId`'s open reservation to `totalSeconds` (rounded up) if the user's day allows it.
   * Idempotent (an absolute total).
   * @param dailyLimit seconds per UTC day, or null for unlimited
   * @throws QuotaUnavailableError when Redis is unreachable (nothing changed)
   */
  async extend(jobId: string, totalSeconds: number, dailyLimit: number | null): Promise<ExtendOutcome> {
    const total = Math.ceil(totalSeconds);
    const tx = await this.pool.connect();
    try {
      await tx.query('BEGIN');
      const { rows } = await tx.query(
        `UPDATE usage_ledger l SET seconds = $2 WHERE job_id = $1 AND kind = 'reserve'
            AND NOT EXISTS (SELECT 1 FROM usage_ledger r WHERE r.job_id = l.job_id AND r.kind = 'refund')
          RETURNING user_id, to_char(day, 'YYYY-MM-DD') AS day`,
        [jobId, total],
      );
      if (!rows[0]) {
        await tx.query('ROLLBACK');
        return { ok: false, reason: 'no_reservation' };
      }
      const { user_id: userId, day } = rows[0];
      let reply: [number, number];
      try {
        reply = await this.redis.fsExtend(
          quotaKeys.day(userId, day),
          quotaKeys.active(userId),
          quotaKeys.job(userId, jobId),
          jobId,
          total,
          dailyLimit ?? -1,
          DAY_KEY_TTL_SECONDS,
        );
      } catch (err) {
        throw new QuotaUnavailableError(`quota store unavailable: ${(err as Error).message}`);
      }
      const [status, used] = reply;
      if (status !== 1) {
        await tx.query('ROLLBACK');
        return status === -1
          ? { ok: false, reason: 'quota_exceeded', usedSeconds: used, resetAt: nextUtcMidnight(new Date(`${day}T00:00:00Z`)) }
          : { ok: false, reason: 'no_reservation' };
      }
      await tx.query('COMMIT');
      return { ok: true, usedSeconds: used };
    } catch (err) {
      await tx.query('ROLLBACK').catch(() => undefined);
      throw err;
    } finally {
      tx.release();
    }
  }
}
