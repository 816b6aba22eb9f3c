/**
 * Raising an open reservation (privacy mode's cloud fallback): the edge job reserved 0 seconds and a
 * concurrency slot; when its audio is uploaded, the audio's seconds are reserved against the daily
 * quota like any admission. Ledger row and Redis counter change together: the ledger raises its reserve
 * row inside a transaction (UsageLedger.raiseReservation), Redis decides inside it (extend-3.lua), a
 * refusal rolls back. Callers reach it through QuotaService.extend.
 */
import { nextUtcMidnight } from './keys';
import type { QuotaStore } from './quota-store';
import type { UsageLedger } from './usage-ledger';

export type ExtendOutcome =
  | { ok: true; usedSeconds: number }
  | { ok: false; reason: 'quota_exceeded'; usedSeconds: number; resetAt: Date }
  | { ok: false; reason: 'no_reservation' };

export class ReservationExtender {
  /** On the service's own ledger and store (quota/quota-service.ts). */
  constructor(
    private readonly ledger: UsageLedger,
    private readonly store: QuotaStore,
  ) {}

  /**
   * Sets job `jobId`'s open reservation to `totalSeconds` (rounded up) if the user's day allows it.
   * Idempotent (an absolute total).
   * @param dailyLimit seconds per UTC day, or null for unlimited
   * @throws QuotaUnavailableError when Redis is unreachable (nothing changed)
   */
  async extend(jobId: string, totalSeconds: number, dailyLimit: number | null): Promise<ExtendOutcome> {
    const total = Math.ceil(totalSeconds);
    const outcome = await this.ledger.raiseReservation<ExtendOutcome>(jobId, total, async (r) => {
      const reply = await this.store.extend(r, total, dailyLimit);
      if (reply.ok) return { commit: true, result: reply };
      if (reply.reason === 'quota_exceeded') {
        // The day the job was admitted on resets at the midnight after it.
        return { commit: false, result: { ...reply, resetAt: nextUtcMidnight(new Date(`${r.day}T00:00:00Z`)) } };
      }
      return { commit: false, result: reply };
    });
    return outcome ?? { ok: false, reason: 'no_reservation' };
  }
}
