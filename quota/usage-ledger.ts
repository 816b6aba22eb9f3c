/**
 * The Postgres side of quotas and the source of truth: one ledger row per reservation, charge and
 * refund, unique by (job, kind), so retried and replayed activities write each row once.
 * A reservation is open until its refund row exists (completion writes charge + refund of the rest,
 * failure and cancellation a refund of everything).
 */
import type { Pool, PoolClient } from 'pg';
import type { OpenReservation } from './quota-store';

type Queryable = Pool | PoolClient;

export class UsageLedger {
  constructor(private readonly pool: Pool) {}

  /** Writes the reservation row (inside the caller's transaction when given a client). */
  async recordReservation(db: Queryable, r: OpenReservation): Promise<void> {
    await db.query(
      `INSERT INTO usage_ledger (user_id, job_id, kind, seconds, day) VALUES ($1, $2, 'reserve', $3, $4)
       ON CONFLICT (job_id, kind) DO NOTHING`,
      [r.userId, r.jobId, r.seconds, r.day],
    );
  }

  /** Removes a reservation that Redis refused: it never took effect (inside the caller's transaction when given a client). */
  async discardReservation(jobId: string, db: Queryable = this.pool): Promise<void> {
    await db.query(`DELETE FROM usage_ledger WHERE job_id = $1 AND kind = 'reserve'`, [jobId]);
  }

  /** The job's reservation, or null. */
  async reservation(jobId: string): Promise<OpenReservation | null> {
    const { rows } = await this.pool.query(
      `SELECT user_id, job_id, seconds, to_char(day, 'YYYY-MM-DD') AS day FROM usage_ledger WHERE job_id = $1 AND kind = 'reserve'`,
      [jobId],
    );
    return rows[0] ? { userId: rows[0].user_id, jobId: rows[0].job_id, seconds: rows[0].seconds, day: rows[0].day } : null;
  }

  /**
   * Ends a reservation in the ledger: a charge row of `billed` (when > 0) and a refund row of the rest.
   * Idempotent. Returns what the ledger holds afterwards (a retry gets the first call's numbers).
   */
  async recordSettlement(jobId: string, billedSeconds: number): Promise<{ charged: number; refunded: number } | null> {
    const r = await this.reservation(jobId);
    if (!r) return null;
    const billed = Math.min(Math.max(0, Math.ceil(billedSeconds)), r.seconds);
    const client = await this.pool.connect();
    try {
      await client.query('BEGIN');
      if (billed > 0) {
        await client.query(
          `INSERT INTO usage_ledger (user_id, job_id, kind, seconds, day) VALUES ($1, $2, 'charge', $3, $4)
           ON CONFLICT (job_id, kind) DO NOTHING`,
          [r.userId, jobId, billed, r.day],
        );
      }
      await client.query(
        `INSERT INTO usage_ledger (user_id, job_id, kind, seconds, day)
         SELECT $1, $2, 'refund', $3 - COALESCE((SELECT seconds FROM usage_ledger WHERE job_id = $2 AND kind = 'charge'), 0), $4
         ON CONFLICT (job_id, kind) DO NOTHING`,
        [r.userId, jobId, r.seconds, r.day],
      );
      const { rows } = await client.query(
        `SELECT kind, seconds FROM usage_ledger WHERE job_id = $1 AND kind IN ('charge', 'refund')`,
        [jobId],
      );
      await client.query('COMMIT');
      const get = (k: string) => rows.find((x) => x.kind === k)?.seconds ?? 0;
      return { charged: get('charge'), refunded: get('refund') };
    } catch (err) {
      await client.query('ROLLBACK').catch(() => undefined);
      throw err;
    } finally {
      client.release();
    }
  }

  /**
   * Raises job `jobId`'s open reservation row to `seconds` (privacy mode's cloud fallback, see
   * quota/extend.ts) inside a transaction that commits only when `decide` answers `commit: true`:
   * the caller asks Redis inside it, so a refusal there leaves the ledger as it was.
   * @param seconds the new total (integer seconds)
   * @param decide gets the reservation's user and UTC day; runs while the row is locked
   * @returns `decide`'s result, or null when the job has no open reservation (none, or already refunded)
   * @throws what `decide` or Postgres throws, after rolling back
   */
  async raiseReservation<T>(
    jobId: string,
    seconds: number,
    decide: (r: { userId: string; jobId: string; day: string }) => Promise<{ commit: boolean; result: T }>,
  ): Promise<T | null> {
    const tx = await this.pool.connect();
    try {
      await tx.query('BEGIN');
      const { rows } = await tx.query(
        `UPDATE usage_ledger l SET seconds = $2 WHERE job_id = $1 AND kind = 'reserve'
            AND NOT EXISTS (SELECT 1 FROM usage_ledger r WHERE r.job_id = l.job_id AND r.kind = 'refund')
          RETURNING user_id, to_char(day, 'YYYY-MM-DD') AS day`,
        [jobId, seconds],
      );
      if (!rows[0]) {
        await tx.query('ROLLBACK');
        return null;
      }
      const { commit, result } = await decide({ userId: rows[0].user_id, jobId, day: rows[0].day });
      await tx.query(commit ? 'COMMIT' : 'ROLLBACK');
      return result;
    } catch (err) {
      await tx.query('ROLLBACK').catch(() => undefined);
      throw err;
    } finally {
      tx.release();
    }
  }

  /** Reserved (net of refunds) and billed seconds of a user's UTC day, and open reservations. */
  async usage(userId: string, day: string): Promise<{ reservedSeconds: number; billedSeconds: number; activeJobs: number }> {
    const { rows } = await this.pool.query(
      `SELECT
         COALESCE(SUM(seconds) FILTER (WHERE kind = 'reserve' AND day = $2), 0)
           - COALESCE(SUM(seconds) FILTER (WHERE kind = 'refund' AND day = $2), 0) AS reserved,
         COALESCE(SUM(seconds) FILTER (WHERE kind = 'charge' AND day = $2), 0) AS billed,
         COUNT(*) FILTER (WHERE kind = 'reserve' AND NOT EXISTS (
           SELECT 1 FROM usage_ledger r WHERE r.job_id = usage_ledger.job_id AND r.kind = 'refund')) AS active
       FROM usage_ledger WHERE user_id = $1`,
      [userId, day],
    );
    return { reservedSeconds: Number(rows[0].reserved), billedSeconds: Number(rows[0].billed), activeJobs: Number(rows[0].active) };
  }

  /** What Redis should hold: per user and day (from `sinceDay`), net seconds; and every open reservation. */
  async state(sinceDay: string): Promise<{ dayUsage: { userId: string; day: string; seconds: number }[]; open: OpenReservation[] }> {
    const usage = await this.pool.query(
      `SELECT user_id, to_char(day, 'YYYY-MM-DD') AS day,
              SUM(CASE kind WHEN 'reserve' THEN seconds WHEN 'refund' THEN -seconds ELSE 0 END) AS seconds
         FROM usage_ledger WHERE day >= $1 GROUP BY user_id, day`,
      [sinceDay],
    );
    const open = await this.pool.query(
      `SELECT user_id, job_id, seconds, to_char(day, 'YYYY-MM-DD') AS day FROM usage_ledger l
        WHERE kind = 'reserve' AND NOT EXISTS (SELECT 1 FROM usage_ledger r WHERE r.job_id = l.job_id AND r.kind = 'refund')`,
    );
    return {
      dayUsage: usage.rows.map((r) => ({ userId: r.user_id, day: r.day, seconds: Number(r.seconds) })),
      open: open.rows.map((r) => ({ userId: r.user_id, jobId: r.job_id, seconds: r.seconds, day: r.day })),
    };
  }
}
