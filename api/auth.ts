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

export function authenticate(pool: Pool, tokens: TokenSigner) {
  return async (req: Request, _res: Response, next: NextFunction) => {
    const header = req.headers.authorization;
    const scope = tokenScopeFor(req.originalUrl.split('?')[0]);
    if (!header && scope && typeof req.query.token === 'string') {
      const principal = await principalFromToken(pool, tokens, req.query.token, scope);
      if (!principal) throw new ApiError(401, 'unauthorized', 'bad or expired token, or its API key was revoked');
      req.principal = principal;
      return next();
    }
    if (!header) throw new ApiError(401, 'unauthorized', 'missing Authorization header: send "Authorization: Bearer <apiKey>"');
    const m = BEARER_RE.exec(header);
    if (!m) throw new ApiError(401, 'unauthorized', 'malformed Authorization header: expected "Bearer <apiKey>"');
    const principal = await resolveApiKey(pool, m[1]);
    if (!principal) throw new ApiError(401, 'unauthorized', 'unknown or revoked API key');
    req.principal = principal;
    next();
  };
}

/** The authenticated caller (only after `authenticate`). */
export function principalOf(req: Request): Principal {
  if (!req.principal) throw new ApiError(401, 'unauthorized', 'not authenticated');
  return req.principal;
}
