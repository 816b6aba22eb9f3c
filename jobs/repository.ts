/**
 * The `jobs` table for the API side: a new job's row, the caller's own job, its versions, the list
 * with filters and keyset pagination, the rollback of a job that never started, and deletion. The row
 * shape is api/job-json.ts `JobRow`; columns are infra/migrations.
 */
import type { Pool, PoolClient } from 'pg';
import { UUID_RE } from '../common/ids';
import type { JobStatus } from '../common/constants';
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
}
