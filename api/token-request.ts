/**
 * `POST /v1/tokens` body (docs/api.md `POST /v1/tokens`): exactly one of `{"jobId": "<job id>"}` or `{"scope": "listen"}`.
 * Checked by hand rather than by a zod union, whose error ("Invalid input") does not say what is wrong.
 */
import { ApiError } from './errors';
import type { TokenScope } from './tokens';

const UUID_RE = /^[0-9a-f]{8}-[0-9a-f]{4}-[0-9a-f]{4}-[0-9a-f]{4}-[0-9a-f]{12}$/i;
const SHAPES = 'send {"jobId": "<job id>"} for a job\'s events or {"scope": "listen"} for /v1/listen';

/** @throws ApiError 400 `invalid_request` saying exactly what is wrong with the body */
export function parseTokenRequest(body: unknown): TokenScope {
  const bad = (message: string) => new ApiError(400, 'invalid_request', message);
  if (typeof body !== 'object' || body === null || Array.isArray(body)) throw bad(`the body must be a JSON object: ${SHAPES}`);
  const b = body as Record<string, unknown>;
  const unknown = Object.keys(b).filter((k) => k !== 'jobId' && k !== 'scope');
  if (unknown.length) throw bad(`unknown field${unknown.length > 1 ? 's' : ''} ${unknown.map((k) => `"${k}"`).join(', ')}: ${SHAPES}`);
  const hasJob = b.jobId !== undefined;
  const hasScope = b.scope !== undefined;
  if (hasJob && hasScope) throw bad('send either jobId or scope, not both: a token is for one job\'s events or for /v1/listen');
  if (!hasJob && !hasScope) throw bad(`jobId or scope is required: ${SHAPES}`);
  if (hasScope) {
    if (b.scope !== 'listen') throw bad(`scope must be "listen" (got ${JSON.stringify(b.scope)}); for a job's events send {"jobId"}`);
    return { scope: 'listen' };
  }
  if (typeof b.jobId !== 'string' || !UUID_RE.test(b.jobId)) throw bad(`jobId must be a job id (a UUID from POST /v1/jobs), got ${JSON.stringify(b.jobId)}`);
  return { jobId: b.jobId };
}
