/**
 * The resource quota manager: admission (reserve), extension (privacy mode's cloud fallback),
 * settlement (charge / release), usage and rebuild, keeping the Postgres ledger (truth) and the Redis
 * counters (speed, atomicity) in step. Callers use these methods; `store` and `ledger` stay readable
 * only for the tests of the two sides themselves (rebuild from a snapshot, ledger rows).
 */
import type { Pool, PoolClient } from 'pg';
import type { Redis } from 'ioredis';
import type { TierLimits } from '../common/tiers';
import { nextUtcMidnight, utcDay } from './keys';
import { ReservationExtender, type ExtendOutcome } from './extend';
import { QuotaStore, QuotaUnavailableError, type OpenReservation, type ReserveOutcome } from './quota-store';
import { UsageLedger } from './usage-ledger';

// The service's public face in one module: callers need not import the store for its error or types.
export { QuotaUnavailableError, type OpenReservation, type ReserveOutcome } from './quota-store';
export type { ExtendOutcome } from './extend';

export class QuotaService {
  readonly store: QuotaStore;
  readonly ledger: UsageLedger;
  /** The rebuild in progress in this process, shared by every caller that finds Redis empty. */
  private rebuilding: Promise<void> | null = null;

  private readonly extender: ReservationExtender;

  constructor(pool: Pool, redis: Redis) {
    this.store = new QuotaStore(redis);
    this.ledger = new UsageLedger(pool);
    this.extender = new ReservationExtender(this.ledger, this.store);
  }

  /**
   * Reserves a job's probed seconds and a concurrency slot: the ledger row is written inside the
   * caller's transaction (with the job row), then Redis decides atomically. On refusal or a Redis error
   * the caller rolls back, so nothing is left reserved.
   * @throws QuotaUnavailableError (→ 503, fail closed)
   */
  async reserve(
    tx: PoolClient,
    r: { userId: string; jobId: string; seconds: number },
    limits: TierLimits,
    now = new Date(),
  ): Promise<ReserveOutcome & { day: string; resetAt: Date }> {
    const day = utcDay(now);
    const reservation = { ...r, seconds: Math.ceil(r.seconds), day };
    await this.ledger.recordReservation(tx, reservation);
    // A Redis that came back empty (restart without persistence) holds no counters: reserving against
    // zero would admit unmetered jobs. Rebuild from the ledger first; this reservation's own row is not
    // committed yet, so the rebuild does not count it and the reserve below adds it once.
    if (!(await this.store.isBuilt())) await this.rebuildOnce();
    let outcome: ReserveOutcome;
    try {
      outcome = await this.store.reserve(reservation, limits.dailySeconds, limits.concurrentJobs);
    } catch (err) {
      // A command that timed out may still run when a hung Redis wakes up, leaving a reservation for a
      // job the caller rolls back. Redis runs one connection's commands in order, so a release sent now
      // runs right after it and takes it back. Not awaited: it cannot be answered any sooner.
      if (err instanceof QuotaUnavailableError) void this.store.settle(reservation, 0).catch(() => undefined);
      throw err;
    }
    return { ...outcome, day, resetAt: nextUtcMidnight(now) };
  }

  /**
   * Removes the ledger row of a reservation Redis refused, inside the caller's transaction, so the
   * same job may {@link reserve} again (e.g. fewer seconds: what is left of the day).
   */
  async discardRefused(tx: PoolClient, jobId: string): Promise<void> {
    await this.ledger.discardReservation(jobId, tx);
  }

  /**
   * Charges `billedSeconds` (0 = release everything) and frees the slot: ledger first (the truth),
   * then Redis. Idempotent by job id; safe to retry after either step failed.
   */
  async settle(jobId: string, billedSeconds: number): Promise<{ charged: number; refunded: number } | null> {
    const r = await this.ledger.reservation(jobId);
    if (!r) return null;
    const result = await this.ledger.recordSettlement(jobId, billedSeconds);
    await this.store.settle(r, result?.charged ?? 0);
    return result;
  }

  /**
   * Takes back a reservation that Redis granted but whose ledger row never committed (the caller's
   * transaction rolled back after {@link reserve} said yes): frees the slot and the day's seconds in
   * Redis alone. Idempotent; the ledger is not touched, since it holds nothing for the job.
   * @param r the reservation as it was sent to {@link reserve}: `day` from its outcome, `seconds`
   *   rounded up as reserve rounds them
   * @throws QuotaUnavailableError when Redis is unreachable
   */
  async releaseUncommitted(r: OpenReservation): Promise<void> {
    await this.store.settle({ ...r, seconds: Math.ceil(r.seconds) }, 0);
  }

  /**
   * Raises job `jobId`'s open reservation to `totalSeconds` (rounded up) within `dailyLimit`
   * (seconds per UTC day, null = unlimited): privacy mode's cloud fallback, whose edge job reserved 0 s
   * and its slot. Idempotent. See quota/extend.ts.
   * @throws QuotaUnavailableError when Redis is unreachable (nothing changed)
   */
  extend(jobId: string, totalSeconds: number, dailyLimit: number | null): Promise<ExtendOutcome> {
    return this.extender.extend(jobId, totalSeconds, dailyLimit);
  }

  /**
   * A user's UTC day as the ledger (the truth) has it: seconds reserved net of refunds, seconds billed,
   * and the user's open reservations (all days).
   */
  usage(userId: string, day: string): Promise<{ reservedSeconds: number; billedSeconds: number; activeJobs: number }> {
    return this.ledger.usage(userId, day);
  }

  /**
   * The same day as the Redis counters have it (what admission decides on): seconds used and jobs
   * holding a concurrency slot. Equal to {@link usage}'s reserved seconds and open reservations when
   * the two sides are in step.
   * @throws QuotaUnavailableError when Redis is unreachable
   */
  counters(userId: string, day: string): Promise<{ usedSeconds: number; activeJobs: number }> {
    return this.store.usage(userId, day);
  }

  /** Recomputes Redis from the ledger (today and yesterday's days, open reservations). */
  async rebuild(now = new Date()): Promise<{ users: number; reservations: number }> {
    const since = utcDay(new Date(now.getTime() - 24 * 3600 * 1000));
    const { dayUsage, open } = await this.ledger.state(since);
    const { restored } = await this.store.rebuild(dayUsage, open);
    return { users: new Set([...dayUsage.map((u) => u.userId), ...open.map((o) => o.userId)]).size, reservations: restored };
  }

  /** Rebuilds when Redis came back empty (start-up, restart without persistence). */
  async rebuildIfEmpty(): Promise<boolean> {
    if (await this.store.isBuilt()) return false;
    await this.rebuildOnce();
    return true;
  }

  /**
   * One rebuild at a time in this process: admissions that find Redis empty together wait for the same
   * one instead of each wiping the counters the others just rebuilt and reserved into.
   */
  private async rebuildOnce(): Promise<void> {
    this.rebuilding ??= (async () => {
      try {
        if (!(await this.store.isBuilt())) await this.rebuild();
      } finally {
        this.rebuilding = null;
      }
    })();
    await this.rebuilding;
  }
}
