/**
 * Audio retention for re-transcription (orchestration queue): a completed job that asked for it
 * (`retainAudioSeconds`) keeps its audio blobs until `audio_retained_until`; workflows/retention.ts
 * sleeps until then on a durable timer and releases it. Both activities are idempotent.
 */
import type { Pool } from 'pg';
import { JobRepository } from '../jobs/repository';
import type { BlobStore } from '../common/blobs';

export interface RetentionDeps {
  pool: Pool;
  blobs: BlobStore;
}

export function createRetentionActivities({ pool, blobs }: RetentionDeps) {
  return {
    /**
     * Starts the job's retention: `audio_retained_until` = now + `seconds` (kept if already set, so a
     * retry does not move it). A job deleted meanwhile keeps nothing: its audio goes now.
     * @returns the retention's end as ISO time, or null when nothing is retained
     */
    async retainAudio({ jobId, seconds }: { jobId: string; seconds: number }): Promise<{ until: string | null }> {
      const until = await new JobRepository(pool).retainAudioUntil(jobId, seconds);
      if (!until) {
        await blobs.deleteJob(jobId);
        return { until: null };
      }
      return { until: until.toISOString() };
    },

    /** Ends the job's retention: its audio blobs go, and the job shows `audioRetainedUntil: null`. */
    async releaseRetainedAudio({ jobId }: { jobId: string }): Promise<void> {
      await blobs.deleteJob(jobId);
      await new JobRepository(pool).clearRetainedAudio(jobId);
    },
  };
}
