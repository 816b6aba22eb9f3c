/**
 * The `jobs` table: a new job's row, the caller's own job, its versions, the list with filters and
 * keyset pagination, the rollback of a job that never started, deletion, and the workers' status
 * transitions and results. The row shape is api/job-json.ts `JobRow`; columns are infra/migrations.
 * (activities/inference.ts keeps its chunk-result transaction's two statements, ordered by the row lock.)
 */
import type { Pool, PoolClient } from 'pg';
import { UUID_RE } from '../common/ids';
import { TERMINAL_STATUSES, type Backend, type JobStatus, type ModelTier } from '../common/constants';
import type { Fallback } from '../common/jobs';
import type { JobLanguages } from '../common/window-languages';
import { withTransaction } from '../common/db';
import type { JobRow } from '../api/job-json';

/** Columns a new job row may set (the rest take their defaults), by their SQL names. */
export interface NewJobRow {
  id: string;
  user_id: string;
  status: JobStatus;
  mode: 'cloud' | 'edge';
  priority_class: string;
  tier: string;
  model: string | null;
  model_tier?: string;
  backend?: string;
  language: string | null;
  /** the request's fields as stored (JSON) */
  options: Record<string, unknown>;
  filename?: string;
  audio_ref?: string;
  audio_seconds?: number;
  expected_cost_per_minute?: number | null;
  actual_cost_per_minute?: number | null;
  waiting_for_capacity?: boolean;
  content_sha256?: string;
  parent_job_id?: string | null;
  version?: number;
  retain_audio_seconds?: number;
  /** set for a job that starts running at once (a live stream) */
  started_now?: boolean;
}

/** A page of `GET /v1/jobs`. */
export interface JobFilter {
  status?: JobStatus;
  contentSha256?: string;
  /** an opaque cursor from a previous page's `nextCursor` */
  cursor?: string;
  limit: number;
}

/** The cursor is not one this API returned (a 400 at the transport). */
export class BadCursorError extends Error {
  constructor() {
    super('cursor is not one this API returned');
  }
}

type Row = JobRow & { cursor_ts: string };

/** Opaque keyset cursor: the last row's (created_at, id). */
function encodeCursor(row: Row): string {
  // Microsecond text from Postgres: a JS Date (ms) would skip rows created within the same millisecond.
  return Buffer.from(JSON.stringify([row.cursor_ts, row.id])).toString('base64url');
}

function decodeCursor(cursor: string): { createdAt: string; id: string } {
  try {
    const [createdAt, id] = JSON.parse(Buffer.from(cursor, 'base64url').toString('utf8'));
    if (typeof createdAt === 'string' && !Number.isNaN(Date.parse(createdAt)) && UUID_RE.test(id)) return { createdAt, id };
  } catch {
    // fall through
  }
  throw new BadCursorError();
}

export class JobRepository {
  constructor(private readonly pool: Pick<Pool, 'query' | 'connect'>) {}

  /** Inserts a new job row inside the caller's transaction (with its reservation). */
  async insert(tx: Pick<PoolClient, 'query'>, row: NewJobRow): Promise<void> {
    const { started_now, ...cols } = row;
    const names = Object.keys(cols).filter((k) => cols[k as keyof typeof cols] !== undefined);
    const values = names.map((k) => (k === 'options' ? JSON.stringify(cols.options) : cols[k as keyof typeof cols]));
    const extra = started_now ? ', started_at' : '';
    const placeholders = names.map((_, i) => `$${i + 1}`).join(', ') + (started_now ? ', now()' : '');
    await tx.query(`INSERT INTO jobs (${names.join(', ')}${extra}) VALUES (${placeholders})`, values);
  }

  /** Forgets a job whose workflow never started (its reservation released first by the caller). */
  async remove(jobId: string): Promise<void> {
    await this.pool.query('DELETE FROM jobs WHERE id = $1', [jobId]);
  }

  /** A job's row by id, whoever owns it (internal callers: the id comes from our own records). */
  async get(jobId: string): Promise<JobRow | null> {
    const { rows } = await this.pool.query<JobRow>('SELECT * FROM jobs WHERE id = $1', [jobId]);
    return rows[0] ?? null;
  }

  /**
   * The user's own, not deleted job by the id a caller sent; null for a malformed id, an unknown one
   * and another user's job alike. A later version's own row is part of its job, never addressed by its id.
   */
  async own(userId: string, id: string): Promise<JobRow | null> {
    if (!UUID_RE.test(id)) return null;
    const { rows } = await this.pool.query<JobRow>(
      'SELECT * FROM jobs WHERE id = $1 AND user_id = $2 AND deleted_at IS NULL AND parent_job_id IS NULL',
      [id, userId],
    );
    return rows[0] ?? null;
  }

  /**
   * The user's jobs, newest first, `limit` per page, with the cursor of the next page (null at the end).
   * A re-transcribed job's status is its latest version's (api/job-json.ts).
   * @throws BadCursorError
   */
  async list(userId: string, filter: JobFilter): Promise<{ rows: JobRow[]; nextCursor: string | null }> {
    const params: unknown[] = [userId];
    const where = ['user_id = $1', 'deleted_at IS NULL', 'parent_job_id IS NULL'];
    const param = (v: unknown) => `$${params.push(v)}`;
    if (filter.status) {
      where.push(`COALESCE((SELECT v.status FROM jobs v WHERE v.parent_job_id = jobs.id ORDER BY v.version DESC LIMIT 1), status) = ${param(filter.status)}`);
    }
    if (filter.contentSha256) where.push(`content_sha256 = ${param(filter.contentSha256)}`);
    if (filter.cursor) {
      const c = decodeCursor(filter.cursor);
      where.push(`(created_at, id) < (${param(c.createdAt)}::timestamptz, ${param(c.id)}::uuid)`);
    }
    const { rows } = await this.pool.query<Row>(
      `SELECT *, to_char(created_at AT TIME ZONE 'UTC', 'YYYY-MM-DD"T"HH24:MI:SS.US"Z"') AS cursor_ts
         FROM jobs WHERE ${where.join(' AND ')} ORDER BY created_at DESC, id DESC LIMIT ${param(filter.limit + 1)}`,
      params,
    );
    const page = rows.slice(0, filter.limit);
    const last = page[page.length - 1];
    return { rows: page, nextCursor: rows.length > filter.limit && last ? encodeCursor(last) : null };
  }

  /**
   * Every version row of the given jobs (their own rows included), oldest first per job.
   * @param jobs the jobs' own rows (version 1)
   */
  async versions(jobs: JobRow[]): Promise<Map<string, JobRow[]>> {
    const out = new Map<string, JobRow[]>(jobs.map((j) => [j.id, [j]]));
    if (jobs.length === 0) return out;
    const { rows } = await this.pool.query<JobRow>('SELECT * FROM jobs WHERE parent_job_id = ANY($1::uuid[]) ORDER BY version', [jobs.map((j) => j.id)]);
    for (const row of rows) out.get(row.parent_job_id!)?.push(row);
    return out;
  }

  /**
   * Deletes jobs' transcripts in one transaction: the rows stay, marked deleted, so the usage ledger
   * keeps its jobs; text, segments, file name, chunk and live results go.
   */
  async softDelete(ids: string[]): Promise<void> {
    await withTransaction(this.pool, async (tx) => {
      await tx.query(
        `UPDATE jobs SET deleted_at = now(), text = NULL, segments = NULL, filename = NULL, audio_retained_until = NULL WHERE id = ANY($1::uuid[])`,
        [ids],
      );
      await tx.query('DELETE FROM chunk_results WHERE job_id = ANY($1::uuid[])', [ids]);
      await tx.query('DELETE FROM live_results WHERE job_id = ANY($1::uuid[])', [ids]);
    });
  }

  /** True when the job is gone or deleted (DELETE /v1/jobs/:id). */
  async isDeleted(jobId: string): Promise<boolean> {
    const { rows } = await this.pool.query('SELECT deleted_at IS NOT NULL AS deleted FROM jobs WHERE id = $1', [jobId]);
    return !rows[0] || rows[0].deleted;
  }

  /** An edge job's stored request facts its page needs: why it has no model, whether it wants words. */
  async edgePageFacts(jobId: string): Promise<{ reason: string | null; wordTimestamps: boolean }> {
    const { rows } = await this.pool.query(
      `SELECT options->'edge'->>'reason' AS reason, COALESCE((options->>'wordTimestamps')::boolean, false) AS word_timestamps FROM jobs WHERE id = $1`,
      [jobId],
    );
    return { reason: rows[0]?.reason ?? null, wordTimestamps: rows[0]?.word_timestamps === true };
  }

  /** Whether the job asked for word times (`wordTimestamps`). */
  async wantsWords(jobId: string): Promise<boolean> {
    const { rows } = await this.pool.query(`SELECT COALESCE((options->>'wordTimestamps')::boolean, false) AS w FROM jobs WHERE id = $1`, [jobId]);
    return rows[0]?.w === true;
  }

  /** Billed seconds and inference time of the last hour's completed jobs on `backends`, by tier. */
  async recentGpuUse(backends: readonly string[]): Promise<{ tier: string; billed: string | null; ms: string | null }[]> {
    const { rows } = await this.pool.query(
      `SELECT j.tier, sum(j.billed_seconds) AS billed,
              sum((SELECT sum(c.inference_ms) FROM chunk_results c WHERE c.job_id = j.id)) AS ms
         FROM jobs j
        WHERE j.status = 'completed' AND j.completed_at > now() - interval '1 hour' AND j.backend = ANY($1)
        GROUP BY j.tier`,
      [backends],
    );
    return rows;
  }

  // -------------------------------------------------------------------------------------------------
  // Workers: status transitions and results (each idempotent: activities are retried)

  /**
   * Sets the given job fields; a terminal status also stamps `completed_at`. Idempotent.
   * @returns whether the patch set a terminal status
   */
  async patch(jobId: string, patch: JobPatch): Promise<boolean> {
    const sets: string[] = [];
    const values: unknown[] = [jobId];
    for (const [k, col] of Object.entries(PATCH_COLUMNS)) {
      const v = patch[k as keyof typeof PATCH_COLUMNS];
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
    const terminal = patch.status !== undefined && TERMINAL_STATUSES.includes(patch.status);
    if (terminal) sets.push('completed_at = COALESCE(completed_at, now())');
    if (sets.length === 0) return false;
    await this.pool.query(`UPDATE jobs SET ${sets.join(', ')} WHERE id = $1`, values);
    return terminal;
  }

  /**
   * Stores a job's merged transcript and marks it completed. `chunks_done` is not written here: each
   * stored chunk result counted itself (activities/inference.ts, activities/live.ts), once. A file's
   * `audio_seconds` was written by its preparation (the decoded length); a live stream's is known only
   * now, at its end.
   */
  async complete(
    jobId: string,
    r: {
      text: string;
      segments: unknown[];
      channels?: unknown[];
      billedSeconds: number;
      audioSeconds: number;
      language: string | null;
      languageProbability: number | null;
      /**
       * the job's language fields decided by the workflow from every window (workflows/languages.ts):
       * written as they are, replacing `language`/`languageProbability` (which then only fill gaps)
       */
      languages?: JobLanguages;
    },
  ): Promise<void> {
    const l = r.languages;
    await this.pool.query(
      `UPDATE jobs SET text = $2, segments = $3, channels = COALESCE($4, channels), status = 'completed', completed_at = COALESCE(completed_at, now()),
         billed_seconds = $5, audio_seconds = CASE WHEN priority_class = 'live' THEN $6 ELSE audio_seconds END,
         ${l ? 'language = $7, language_probability = $8, languages = $9::jsonb' : 'language = COALESCE(language, $7), language_probability = COALESCE(language_probability, $8)'}
       WHERE id = $1`,
      [jobId, r.text, JSON.stringify(r.segments), r.channels ? JSON.stringify(r.channels) : null, r.billedSeconds, r.audioSeconds,
        ...(l ? [l.language, l.languageProbability, JSON.stringify(l.languages)] : [r.language, r.languageProbability])],
    );
  }

  /** Tier, backend and billed seconds (for the end-of-job metrics), or null. */
  async billing(jobId: string): Promise<{ tier: string; backend: string; billedSeconds: number } | null> {
    const { rows } = await this.pool.query('SELECT tier, backend, billed_seconds FROM jobs WHERE id = $1', [jobId]);
    return rows[0] ? { tier: rows[0].tier, backend: rows[0].backend, billedSeconds: rows[0].billed_seconds } : null;
  }

  /** Appends a fallback to the job's `fallbacks` once (idempotent by chunk and target). */
  async addFallback(jobId: string, fallback: Fallback): Promise<void> {
    await this.pool.query(
      `UPDATE jobs SET fallbacks = fallbacks || $2::jsonb
        WHERE id = $1 AND NOT fallbacks @> jsonb_build_array(jsonb_build_object('chunk', $3::int, 'to', $4::text))`,
      [jobId, JSON.stringify([fallback]), fallback.chunk, fallback.to],
    );
  }

  /** Records that the job's webhook could not be delivered. */
  async setWebhookFailure(jobId: string, failure: Record<string, unknown>): Promise<void> {
    await this.pool.query('UPDATE jobs SET webhook_failure = $2 WHERE id = $1', [jobId, JSON.stringify(failure)]);
  }

  /**
   * Starts keeping the job's audio until now + `seconds` (kept if already set, so a retry does not move it).
   * @returns the end, or null when the job was deleted meanwhile
   */
  async retainAudioUntil(jobId: string, seconds: number): Promise<Date | null> {
    const { rows } = await this.pool.query(
      `UPDATE jobs SET audio_retained_until = COALESCE(audio_retained_until, now() + make_interval(secs => $2))
        WHERE id = $1 AND deleted_at IS NULL RETURNING audio_retained_until`,
      [jobId, seconds],
    );
    return rows[0] ? new Date(rows[0].audio_retained_until) : null;
  }

  /** The job keeps no audio any more. */
  async clearRetainedAudio(jobId: string): Promise<void> {
    await this.pool.query('UPDATE jobs SET audio_retained_until = NULL WHERE id = $1', [jobId]);
  }

  /** One more of a live stream's utterances is stored (inside its result's transaction). */
  async countLiveResult(tx: Pick<PoolClient, 'query'>, jobId: string, hasText: boolean): Promise<void> {
    await tx.query(
      `UPDATE jobs SET chunks_done = chunks_done + 1,
         first_result_at = CASE WHEN first_result_at IS NULL AND $2 THEN now() ELSE first_result_at END
       WHERE id = $1`,
      [jobId, hasText],
    );
  }

  // Privacy mode

  /**
   * Moves the stored edge result into the job (text, segments, language, `producedBy: edge`, 0 seconds
   * billed, completed) inside the caller's transaction.
   * @returns the number of segments, or null when no result was waiting
   */
  async completeFromEdgeResult(tx: Pick<PoolClient, 'query'>, jobId: string): Promise<number | null> {
    const { rows } = await tx.query(
      `UPDATE jobs j SET text = r.text, segments = r.segments, language = r.language, produced_by = 'edge',
              billed_seconds = 0, status = 'completed', completed_at = COALESCE(j.completed_at, now()),
              chunks_total = 1, chunks_done = 1
         FROM edge_results r WHERE r.job_id = j.id AND j.id = $1
       RETURNING jsonb_array_length(r.segments) AS n`,
      [jobId],
    );
    return rows[0] ? Number(rows[0].n) : null;
  }

  /** Notes in an edge job that it waits for a fallback upload (`edge.outcome`), and why. */
  async markEdgeFallback(jobId: string, reason: 'deadline' | 'device' | 'uploaded'): Promise<void> {
    await this.pool.query(`UPDATE jobs SET options = jsonb_set(options, '{edge,fallback}', to_jsonb($2::text)) WHERE id = $1`, [jobId, reason]);
  }

  /** An edge job's pending fallback upload (edge_plans.pending_audio) and its tier. */
  async pendingFallback<P>(jobId: string): Promise<{ pending: P | null; tier: string } | null> {
    const { rows } = await this.pool.query(`SELECT p.pending_audio, j.tier FROM edge_plans p JOIN jobs j ON j.id = p.job_id WHERE p.job_id = $1`, [jobId]);
    return rows[0] ? { pending: rows[0].pending_audio ?? null, tier: rows[0].tier } : null;
  }

  /** Points an edge job at its admitted fallback audio and the backend and model it was routed to. */
  async routeToCloud(
    jobId: string,
    a: { audioRef: string; filename: string; audioSeconds: number; backend: Backend; model: string; modelTier: ModelTier; expectedCostPerMinute: number | null; waitingForCapacity: boolean },
  ): Promise<void> {
    await this.pool.query(
      `UPDATE jobs SET audio_ref = $2, filename = $3, audio_seconds = $4, backend = $5, model = $6, model_tier = $7,
              expected_cost_per_minute = $8, actual_cost_per_minute = $8, waiting_for_capacity = $9,
              options = jsonb_set(options, '{edge,fallback}', '"uploaded"')
        WHERE id = $1`,
      [jobId, a.audioRef, a.filename, a.audioSeconds, a.backend, a.model, a.modelTier, a.expectedCostPerMinute, a.waitingForCapacity],
    );
  }
}

/** Job fields a worker sets as the job moves (activities/storage.ts updateJob). */
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

const PATCH_COLUMNS: Record<keyof Omit<JobPatch, 'error' | 'modelNote'>, string> = {
  status: 'status',
  audioSeconds: 'audio_seconds',
  chunksTotal: 'chunks_total',
  language: 'language',
  languageProbability: 'language_probability',
  model: 'model',
  modelTier: 'model_tier',
  backend: 'backend',
};
