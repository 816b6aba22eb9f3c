/** Job rows and transcripts in Postgres, and the job's blobs. Orchestration queue. */
import type { Pool } from 'pg';
import type { BlobStore } from '../common/blobs';
import type { JobStatus } from '../common/constants';
import { JobRepository, type JobPatch } from '../jobs/repository';
import { mergeChunkSegments, transcriptText } from '../audio/transcript';
import type { Fallback } from '../common/jobs';
import { jobEnded } from '../common/metrics';
import type { JobLanguages } from '../common/window-languages';

export interface StorageDeps {
  pool: Pool;
  blobs: BlobStore;
}

export type { JobPatch } from '../jobs/repository';

/**
 * The job's one terminal event (the unique index makes a retry a no-op), counted in the metrics the
 * first time. Shared by every activity that ends a job.
 */
export async function recordEnd(pool: Pool, jobId: string, status: JobStatus): Promise<void> {
  const ins = await pool.query(`INSERT INTO job_events (job_id, type) VALUES ($1, $2) ON CONFLICT DO NOTHING`, [jobId, status]);
  if (!ins.rowCount) return;
  const job = await new JobRepository(pool).billing(jobId);
  if (job) jobEnded({ tier: job.tier as never, status, backend: job.backend as never, billedSeconds: job.billedSeconds });
}

/**
 * Stores a job's merged transcript, marks it completed and records its terminal event: the end of a file
 * job and of a multichannel one (activities/channels.ts). `languages` is the workflow's decision; without
 * it (a workflow started before languages were decided per window) the first chunk with speech gives the
 * language.
 * @param rows the job's chunk_results rows, by chunk index (`language`, `language_probability`, `segments`)
 */
export async function completeJob(
  pool: Pool,
  jobId: string,
  rows: { segments: unknown[]; language: string | null; language_probability: number | null }[],
  r: { text: string; segments: unknown[]; channels?: unknown[]; billedSeconds: number; audioSeconds: number; languages?: JobLanguages },
): Promise<void> {
  const first = rows.find((x) => x.segments.length > 0) ?? rows[0];
  await new JobRepository(pool).complete(jobId, {
    ...r,
    language: first?.language ?? null,
    languageProbability: first?.language_probability ?? null,
  });
  await recordEnd(pool, jobId, 'completed');
}

export function createStorageActivities({ pool, blobs }: StorageDeps) {
  const jobs = new JobRepository(pool);
  return {
    /** Sets the given job fields; a terminal status also stamps `completed_at`. Idempotent. */
    async updateJob({ jobId, patch }: { jobId: string; patch: JobPatch }): Promise<void> {
      if (await jobs.patch(jobId, patch)) await recordEnd(pool, jobId, patch.status!);
    },

    /**
     * Merges the stored chunk results into the job's transcript (segments with global times, text)
     * and marks it completed. Returns only counts: the text stays in Postgres.
     */
    async finalizeTranscript({
      jobId,
      audioSeconds,
      billedSeconds,
      languages,
    }: {
      jobId: string;
      audioSeconds: number;
      billedSeconds: number;
      /** the job's language fields, decided by the workflow from every window (workflows/languages.ts) */
      languages?: JobLanguages;
    }): Promise<{ segments: number }> {
      const { rows } = await pool.query(
        'SELECT chunk_index, start_s, end_s, segments, language, language_probability FROM chunk_results WHERE job_id = $1 ORDER BY chunk_index',
        [jobId],
      );
      const segments = mergeChunkSegments(
        rows.map((r) => ({ index: r.chunk_index, start: r.start_s, end: r.end_s, segments: r.segments })),
        audioSeconds,
      );
      await completeJob(pool, jobId, rows, { text: transcriptText(segments), segments, billedSeconds, audioSeconds, languages });
      return { segments: segments.length };
    },

    /** Appends a fallback to the job's `fallbacks` once (idempotent by chunk and target). */
    async recordFallback({ jobId, fallback }: { jobId: string; fallback: Fallback }): Promise<void> {
      await jobs.addFallback(jobId, fallback);
    },

    /** Deletes the job's audio blobs (upload and normalised PCM). Idempotent. */
    async deleteAudio({ jobId }: { jobId: string }): Promise<void> {
      await blobs.deleteJob(jobId);
    },
  };
}
