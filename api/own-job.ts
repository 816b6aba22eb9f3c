/** The one lookup every per-job route uses, so tenant isolation is decided in one place. */
import type { Pool } from 'pg';
import { UUID_RE } from '../common/ids';
import { ApiError } from './errors';
import type { JobRow } from './job-json';

/**
 * The caller's own, not deleted job. A malformed id, an unknown one and another user's job all
 * answer the same 404 (never 403), so nothing tells a caller that an id is taken.
 * @throws ApiError 404 not_found
 */
export async function ownJob(pool: Pool, userId: string, id: string): Promise<JobRow> {
  if (!UUID_RE.test(id)) throw new ApiError(404, 'not_found', 'no such job');
  // A later version's own row is part of its job, never addressed by its id (parent_job_id set).
  const { rows } = await pool.query<JobRow>('SELECT * FROM jobs WHERE id = $1 AND user_id = $2 AND deleted_at IS NULL AND parent_job_id IS NULL', [
    id,
    userId,
  ]);
  if (!rows[0]) throw new ApiError(404, 'not_found', 'no such job');
  return rows[0];
}
