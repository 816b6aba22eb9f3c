/**
 * Edge tokens: the one token that lives past five minutes (until the plan's deadline), so unlike the
 * stateless HMAC tokens of api/tokens.ts it is server-side state: 256 random bits, only the sha256
 * stored (edge_plans.token_hash), scoped to one job, and used once (edge_plans.used_at).
 */
import * as crypto from 'node:crypto';
import type { Pool } from 'pg';

const PREFIX = 'fset_';
const TOKEN_RE = /^fset_[A-Za-z0-9_-]{43}$/;

/** A new edge token and the hash to store. */
export function newEdgeToken(): { token: string; hash: Buffer } {
  const token = `${PREFIX}${crypto.randomBytes(32).toString('base64url')}`;
  return { token, hash: hashEdgeToken(token) };
}

export function hashEdgeToken(token: string): Buffer {
  return crypto.createHash('sha256').update(token).digest();
}

/** True if the string has the shape of an edge token (so an API key sent by mistake is told apart). */
export function looksLikeEdgeToken(s: string): boolean {
  return TOKEN_RE.test(s);
}

export type TokenCheck =
  | { ok: true }
  | { ok: false; status: 401 | 409; reason: 'unknown' | 'other_job' | 'used' | 'expired' };

export interface EdgePlanRow {
  job_id: string;
  model: string | null;
  allow_fallback: boolean;
  expires_at: Date;
  upload_expires_at: Date | null;
  used_at: Date | null;
}

/**
 * Checks a token against job `jobId` without using it: unknown → 401; a genuine token of another job,
 * an already used one, or one past its deadline → 409 `edge_result_rejected` (docs/api.md).
 * The lookup is by hash (a unique index), so a guess learns nothing from timing.
 */
export async function checkEdgeToken(pool: Pool, jobId: string, token: string): Promise<TokenCheck & { plan?: EdgePlanRow }> {
  if (!looksLikeEdgeToken(token)) return { ok: false, status: 401, reason: 'unknown' };
  const { rows } = await pool.query<EdgePlanRow & { expired: boolean }>(
    `SELECT job_id, model, allow_fallback, expires_at, upload_expires_at, used_at, expires_at <= now() AS expired
       FROM edge_plans WHERE token_hash = $1`,
    [hashEdgeToken(token)],
  );
  const row = rows[0];
  if (!row) return { ok: false, status: 401, reason: 'unknown' };
  if (row.job_id !== jobId) return { ok: false, status: 409, reason: 'other_job' };
  if (row.used_at) return { ok: false, status: 409, reason: 'used' };
  if (row.expired) return { ok: false, status: 409, reason: 'expired' };
  return { ok: true, plan: row };
}

/**
 * Uses the token: true for exactly one caller while it is unused and before its deadline
 * (one conditional UPDATE, so two concurrent posts cannot both win).
 */
export async function useEdgeToken(pool: Pool, jobId: string, token: string): Promise<boolean> {
  const { rowCount } = await pool.query(
    `UPDATE edge_plans SET used_at = now() WHERE job_id = $1 AND token_hash = $2 AND used_at IS NULL AND expires_at > now()`,
    [jobId, hashEdgeToken(token)],
  );
  return rowCount === 1;
}
