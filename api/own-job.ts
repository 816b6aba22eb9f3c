/** The one lookup every per-job route uses, so tenant isolation is decided in one place. */
import type { Pool } from 'pg';
import { JobRepository } from '../jobs/repository';
import { ApiError } from './errors';
import type { JobRow } from './job-json';

/**
 * The caller's own, not deleted job (jobs/repository.ts own). A malformed id, an unknown one and
 * another user's job all answer the same 404 (never 403), so nothing tells a caller that an id is taken.
 * @throws ApiError 404 not_found
 */
export async function ownJob(pool: Pool, userId: string, id: string): Promise<JobRow> {
  const job = await new JobRepository(pool).own(userId, id);
  if (!job) throw new ApiError(404, 'not_found', 'no such job');
  return job;
}
