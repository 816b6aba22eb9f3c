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
import type { PendingAudio } from '../jobs/admission';
import { quotaExceededRefusal, quotaUnavailable, refusal } from '../jobs/refusal';
import { QuotaUnavailableError, type QuotaService } from '../quota/quota-service';

export interface EdgeDeps {
  pool: Pool;
  quota: QuotaService;
  tiers: Record<Tier, TierLimits>;
}

export function createEdgeActivities({ pool, quota, tiers }: EdgeDeps) {
  return {
    /**
     * Moves the stored edge result into the job: text, segments, language, `producedBy: edge`, 0 seconds
     * billed, `completed`. Idempotent (a retry after the move finds the job completed).
     */
    async finalizeEdgeResult({ jobId }: { jobId: string }): Promise<{ segments: number }> {
      const client = await pool.connect();
      try {
        await client.query('BEGIN');
        const { rows } = await client.query(
          `UPDATE jobs j SET text = r.text, segments = r.segments, language = r.language, produced_by = 'edge',
                  billed_seconds = 0, status = 'completed', completed_at = COALESCE(j.completed_at, now()),
                  chunks_total = 1, chunks_done = 1
             FROM edge_results r WHERE r.job_id = j.id AND j.id = $1
           RETURNING jsonb_array_length(r.segments) AS n`,
          [jobId],
        );
        await client.query('DELETE FROM edge_results WHERE job_id = $1', [jobId]);
        await client.query(`INSERT INTO job_events (job_id, type) VALUES ($1, 'completed') ON CONFLICT DO NOTHING`, [jobId]);
        await client.query('COMMIT');
        if (!rows[0]) {
          const { rows: done } = await pool.query(`SELECT status FROM jobs WHERE id = $1`, [jobId]);
          if (done[0]?.status !== 'completed') throw ApplicationFailure.nonRetryable(`edge result of job ${jobId} is missing`, 'edge_result_missing');
          return { segments: 0 };
        }
        return { segments: Number(rows[0].n) };
      } catch (err) {
        await client.query('ROLLBACK').catch(() => undefined);
        throw err;
      } finally {
        client.release();
      }
    },

    /** Notes in the job that it now waits for a fallback upload (`edge.outcome`), and why. */
    async markEdgeFallback({ jobId, reason }: { jobId: string; reason: 'deadline' | 'device' }): Promise<void> {
      await pool.query(
        `UPDATE jobs SET options = jsonb_set(options, '{edge,fallback}', to_jsonb($2::text)) WHERE id = $1`,
        [jobId, reason],
      );
    },

    /**
     * Admits the fallback upload the API stored: reserves its seconds on the job's open reservation
     * (the daily quota applies; the slot is the job's already) and points the job at the audio and its
     * backend. Refusals are answers, not failures: the API turns them into its errors.
     */
    async admitFallbackAudio({ jobId }: { jobId: string }): Promise<EdgeAudioOutcome> {
      const { rows } = await pool.query(
        `SELECT p.pending_audio, j.tier FROM edge_plans p JOIN jobs j ON j.id = p.job_id WHERE p.job_id = $1`,
        [jobId],
      );
      const pending = rows[0]?.pending_audio as PendingAudio | null;
      if (!pending) return { ok: false, refusal: refusal('not_awaiting_audio', 'no uploaded audio is waiting for this job') };
      const limits = tiers[rows[0].tier as Tier];
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
      await pool.query(
        `UPDATE jobs SET audio_ref = $2, filename = $3, audio_seconds = $4, backend = $5, model = $6, model_tier = $7,
                expected_cost_per_minute = $8, actual_cost_per_minute = $8, waiting_for_capacity = $9,
                options = jsonb_set(options, '{edge,fallback}', '"uploaded"')
          WHERE id = $1`,
        [jobId, blobKeys.upload(jobId), pending.filename, pending.audioSeconds, pending.backend, pending.model, pending.modelTier,
          pending.expectedCostPerMinute, pending.waitingForCapacity],
      );
      return { ok: true, backend: pending.backend, model: pending.model, modelTier: pending.modelTier };
    },
  };
}
