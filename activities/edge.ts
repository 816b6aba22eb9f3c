/**
 * Privacy-mode activities on the orchestration queue: take the browser's stored result into the job,
 * record a fallback, and admit a fallback upload's seconds against the daily quota.
 */
import { ApplicationFailure } from '@temporalio/activity';
import type { Pool } from 'pg';
import { blobKeys } from '../common/blobs';
import type { Tier } from '../common/constants';
import type { EdgeAudioOutcome } from '../common/edge';
import type { TierLimits } from '../common/tiers';
import { withTransaction } from '../common/db';
import type { PendingAudio } from '../jobs/admission';
import { JobRepository } from '../jobs/repository';
import { quotaExceededRefusal, quotaUnavailable, refusal } from '../jobs/refusal';
import { QuotaUnavailableError, type QuotaService } from '../quota/quota-service';

export interface EdgeDeps {
  pool: Pool;
  quota: QuotaService;
  tiers: Record<Tier, TierLimits>;
}

export function createEdgeActivities({ pool, quota, tiers }: EdgeDeps) {
  const jobs = new JobRepository(pool);
  return {
    /**
     * Moves the stored edge result into the job: text, segments, language, `producedBy: edge`, 0 seconds
     * billed, `completed`. Idempotent (a retry after the move finds the job completed).
     */
    async finalizeEdgeResult({ jobId }: { jobId: string }): Promise<{ segments: number }> {
      const segments = await withTransaction(pool, async (tx) => {
        const n = await jobs.completeFromEdgeResult(tx, jobId);
        await tx.query('DELETE FROM edge_results WHERE job_id = $1', [jobId]);
        await tx.query(`INSERT INTO job_events (job_id, type) VALUES ($1, 'completed') ON CONFLICT DO NOTHING`, [jobId]);
        return n;
      });
      if (segments === null) {
        if ((await jobs.get(jobId))?.status !== 'completed') throw ApplicationFailure.nonRetryable(`edge result of job ${jobId} is missing`, 'edge_result_missing');
        return { segments: 0 };
      }
      return { segments };
    },

    /** Notes in the job that it now waits for a fallback upload (`edge.outcome`), and why. */
    async markEdgeFallback({ jobId, reason }: { jobId: string; reason: 'deadline' | 'device' }): Promise<void> {
      await jobs.markEdgeFallback(jobId, reason);
    },

    /**
     * Admits the fallback upload the API stored: reserves its seconds on the job's open reservation
     * (the daily quota applies; the slot is the job's already) and points the job at the audio and its
     * backend. Refusals are answers, not failures: the API turns them into its errors.
     */
    async admitFallbackAudio({ jobId }: { jobId: string }): Promise<EdgeAudioOutcome> {
      const found = await jobs.pendingFallback<PendingAudio>(jobId);
      const pending = found?.pending;
      if (!found || !pending) return { ok: false, refusal: refusal('not_awaiting_audio', 'no uploaded audio is waiting for this job') };
      const limits = tiers[found.tier as Tier];
      let outcome;
      try {
        outcome = await quota.extend(jobId, pending.audioSeconds, limits.dailySeconds);
      } catch (err) {
        if (err instanceof QuotaUnavailableError) return { ok: false, refusal: quotaUnavailable() };
        throw err;
      }
      if (!outcome.ok) {
        if (outcome.reason === 'no_reservation') return { ok: false, refusal: refusal('not_awaiting_audio', 'the job has ended') };
        return { ok: false, refusal: quotaExceededRefusal(outcome.usedSeconds, limits, outcome.resetAt) };
      }
      await jobs.routeToCloud(jobId, { audioRef: blobKeys.upload(jobId), ...pending });
      return { ok: true, backend: pending.backend, model: pending.model, modelTier: pending.modelTier };
    },
  };
}
