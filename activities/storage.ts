/** Job rows and transcripts in Postgres, and the job's blobs. Orchestration queue. */
import type { Pool } from 'pg';
import type { BlobStore } from '../common/blobs';
import { TERMINAL_STATUSES, type JobStatus, type ModelTier, type Backend } from '../common/constants';
import { mergeChunkSegments, transcriptText } from '../audio/transcript';
import type { Fallback } from '../common/jobs';
import { jobEnded } from '../common/metrics';
import type { JobLanguages } from '../common/window-languages';

export interface StorageDeps {
  pool: Pool;
  blobs: BlobStore;
}

export interface JobPatch {
  status?: JobStatus;
  audioSeconds?: number;
  chunksTotal?: number;
  language?: string | null;
  languageProbability?: number | null;
  model?: string;
  modelTier?: ModelTier;
  backend?: Backend;
  error?: { code: string; message: string } | null;
  /** why the model differs from the routed one (a re-route by language); kept in `options.modelNote` */
  modelNote?: string | null;
}

const COLUMNS: Record<keyof Omit<JobPatch, 'error' | 'modelNote'>, string> = {
  status: 'status',
  audioSeconds: 'audio_seconds',
  chunksTotal: 'chunks_total',
  language: 'language',
  languageProbability: 'language_probability',
  model: 'model',
  modelTier: 'model_tier',
  backend: 'backend',
};

/** SET clauses of a job's language fields, from parameter `$first` on (languageValues gives the values). */
export function languageSets(first: number): string {
  return `, language = $${first}, language_probability = $${first + 1}, languages = $${first + 2}::jsonb`;
}

/** The values of languageSets' parameters; none without a summary. */
export function languageValues(l: JobLanguages | undefined): unknown[] {
  return l ? [l.language, l.languageProbability, JSON.stringify(l.languages)] : [];
}

export function createStorageActivities({ pool, blobs }: StorageDeps) {
  /** The job's one terminal event (the unique index makes a retry a no-op). */
  const recordEnd = async (jobId: string, status: JobStatus) => {
    const ins = await pool.query(`INSERT INTO job_events (job_id, type) VALUES ($1, $2) ON CONFLICT DO NOTHING`, [jobId, status]);
    if (!ins.rowCount) return;
    // Once per job (the first terminal event): count it in the metrics.
    const { rows } = await pool.query('SELECT tier, backend, billed_seconds FROM jobs WHERE id = $1', [jobId]);
    if (rows[0]) jobEnded({ tier: rows[0].tier, status, backend: rows[0].backend, billedSeconds: rows[0].billed_seconds });
  };
  return {
    /** Sets the given job fields; a terminal status also stamps `completed_at`. Idempotent. */
    async updateJob({ jobId, patch }: { jobId: string; patch: JobPatch }): Promise<void> {
      const sets: string[] = [];
      const values: unknown[] = [jobId];
      for (const [k, col] of Object.entries(COLUMNS)) {
        const v = patch[k as keyof typeof COLUMNS];
        if (v === undefined) continue;
        values.push(v);
        sets.push(`${col} = $${values.length}`);
      }
      if (patch.error !== undefined) {
        values.push(patch.error?.code ?? null, patch.error?.message ?? null);
        sets.push(`error_code = $${values.length - 1}`, `error_message = $${values.length}`);
      }
      if (patch.modelNote !== undefined) {
        values.push(patch.modelNote);
        sets.push(`options = options || jsonb_build_object('modelNote', $${values.length}::text)`);
      }
      if (patch.status && TERMINAL_STATUSES.includes(patch.status)) {
        sets.push('completed_at = COALESCE(completed_at, now())');
      }
      if (sets.length === 0) return;
      await pool.query(`UPDATE jobs SET ${sets.join(', ')} WHERE id = $1`, values);
      if (patch.status && TERMINAL_STATUSES.includes(patch.status)) await recordEnd(jobId, patch.status);
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
        'SELECT chunk_index, start_s, end_s, segments FROM chunk_results WHERE job_id = $1 ORDER BY chunk_index',
        [jobId],
      );
      const segments = mergeChunkSegments(
        rows.map((r) => ({ index: r.chunk_index, start: r.start_s, end: r.end_s, segments: r.segments })),
        audioSeconds,
      );
      // The job's language fields come from the workflow, which decides them from every window's language
      // (workflows/languages.ts): the one place they are decided (absent: a workflow started before).
      await pool.query(
        `UPDATE jobs SET text = $2, segments = $3, status = 'completed', completed_at = COALESCE(completed_at, now()),
           billed_seconds = $6, audio_seconds = $4, chunks_done = $5${languages ? languageSets(7) : ''}
         WHERE id = $1`,
        [jobId, transcriptText(segments), JSON.stringify(segments), audioSeconds, rows.length, billedSeconds, ...languageValues(languages)],
      );
      await recordEnd(jobId, 'completed');
      return { segments: segments.length };
    },

    /** Appends a fallback to the job's `fallbacks` once (idempotent by chunk and target). */
    async recordFallback({ jobId, fallback }: { jobId: string; fallback: Fallback }): Promise<void> {
      await pool.query(
        `UPDATE jobs SET fallbacks = fallbacks || $2::jsonb
          WHERE id = $1 AND NOT fallbacks @> jsonb_build_array(jsonb_build_object('chunk', $3::int, 'to', $4::text))`,
        [jobId, JSON.stringify([fallback]), fallback.chunk, fallback.to],
      );
    },

    /** Deletes the job's audio blobs (upload and normalised PCM). Idempotent. */
    async deleteAudio({ jobId }: { jobId: string }): Promise<void> {
      await blobs.deleteJob(jobId);
    },
  };
}
