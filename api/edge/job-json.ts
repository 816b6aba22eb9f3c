/** The `edge` part of an edge job's JSON: what was planned, how it ended, and what it cost. */
import { EDGE_BILLING_NOTE } from '../../common/edge';
import type { JobRow } from '../job-json';

interface EdgeOptions {
  model?: string | null;
  allowFallback?: boolean;
  deadline?: string;
  uploadDeadline?: string | null;
  reason?: string | null;
  /** set by the workflow: 'deadline' | 'device' (waiting for audio) or 'uploaded' */
  fallback?: string;
}

/**
 * `{model, allowFallback, expiresAt, uploadExpiresAt, outcome, billing}`; `outcome` is `pending`,
 * `edge` (the browser's result), `awaiting-audio`, `cloud` (fallback upload) or `expired`.
 */
export function edgeJobJson(row: JobRow) {
  const e = ((row.options ?? {}) as { edge?: EdgeOptions }).edge ?? {};
  let outcome = 'pending';
  if (row.produced_by === 'edge') outcome = 'edge';
  else if (e.fallback === 'uploaded') outcome = 'cloud';
  else if (row.status === 'expired') outcome = 'expired';
  else if (e.fallback) outcome = 'awaiting-audio';
  return {
    model: e.model ?? null,
    allowFallback: e.allowFallback ?? false,
    expiresAt: e.deadline ?? null,
    uploadExpiresAt: e.uploadDeadline ?? null,
    ...(e.reason ? { notPossible: e.reason } : {}),
    outcome,
    billing: outcome === 'edge' ? EDGE_BILLING_NOTE : outcome === 'cloud' ? 'fell back to the cloud: billed as a cloud job' : 'nothing billed',
  };
}
