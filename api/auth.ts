/** Bearer-key authentication: every route but the health and docs routes resolves key → user → tier. */
import type { NextFunction, Request, Response } from 'express';
import type { Pool } from 'pg';
import { resolveApiKey, type Principal } from '../common/keys';
import { ApiError } from './errors';
import { principalFromToken, type TokenSigner } from './tokens';

declare module 'express-serve-static-core' {
  interface Request {
    principal?: Principal;
  }
}

// RFC 7235: the auth scheme name is case-insensitive ("bearer" is as good as "Bearer").
export const BEARER_RE = /^Bearer ([^\s]+)$/i;

/** Routes where a browser may authenticate with `?token=` instead of a header, and the scope it needs. */
function tokenScopeFor(path: string): string | null {
  const events = /^\/v1\/jobs\/([^/]+)\/events$/.exec(path);
  if (events) return `job:${events[1]}`;
  return path === '/v1/listen' ? 'listen' : null;
}

/**
 * The caller an `Authorization: Bearer <apiKey>` header names, else (no header, a route that takes one) a `?token=`
 * of `scope`; else the 401's sentence. One rule for the HTTP routes ({@link authenticate}) and the WebSocket upgrade
 * (api/listen.ts), so a caller is told the same thing on both.
 * @param token the `?token=` value, undefined when absent
 * @param scope the scope a token needs on this route, null where tokens are not accepted
 * @param missing the sentence when neither was sent (the route says what it accepts)
 */
export async function resolveCaller(
  pool: Pool,
  tokens: TokenSigner,
  header: string | undefined,
  token: string | undefined,
  scope: string | null,
  missing = 'missing Authorization header: send "Authorization: Bearer <apiKey>"',
): Promise<Principal | string> {
  if (!header && scope && token !== undefined) {
    return (await principalFromToken(pool, tokens, token, scope)) ?? 'bad or expired token, or its API key was revoked';
  }
  if (!header) return missing;
  const m = BEARER_RE.exec(header);
  if (!m) return 'malformed Authorization header: expected "Bearer <apiKey>"';
  return (await resolveApiKey(pool, m[1])) ?? 'unknown or revoked API key';
}

export function authenticate(pool: Pool, tokens: TokenSigner) {
  return async (req: Request, _res: Response, next: NextFunction) => {
    const scope = tokenScopeFor(req.originalUrl.split('?')[0]);
    const token = typeof req.query.token === 'string' ? req.query.token : undefined;
    const caller = await resolveCaller(pool, tokens, req.headers.authorization, token, scope);
    if (typeof caller === 'string') throw new ApiError(401, 'unauthorized', caller);
    req.principal = caller;
    next();
  };
}

/** The authenticated caller (only after `authenticate`). */
export function principalOf(req: Request): Principal {
  if (!req.principal) throw new ApiError(401, 'unauthorized', 'not authenticated');
  return req.principal;
}
