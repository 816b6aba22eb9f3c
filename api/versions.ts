/**
 * Versions of a job (re-transcription): version 1 is the job's own row and workflow
 * `transcription-<jobId>`; version n > 1 is its own row (parent_job_id = the job) run by workflow
 * `transcription-<jobId>-v<n>` (infra/migrations/1764820000000_job-versions.sql).
 */
import { workflowIdFor } from '../common/constants';
import type { JobRow } from './job-json';

/** The workflow id of version `version` of job `jobId`. */
export function versionWorkflowId(jobId: string, version: number): string {
  return version === 1 ? workflowIdFor(jobId) : `${workflowIdFor(jobId)}-v${version}`;
}

/** The workflow id of the run a version row records. */
export function runWorkflowId(row: JobRow): string {
  return row.parent_job_id ? versionWorkflowId(row.parent_job_id, row.version ?? 1) : workflowIdFor(row.id);
}
