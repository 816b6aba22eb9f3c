/** Bearer-key authentication: every route but the health and docs routes resolves key → user → tier. */
import type { NextFunction, Request, Response } from 'express';
import type { Pool } from 'pg';
import { resolveApiKey, type Principal } from '../common/keys';
import { ApiError } from './errors';

declare module 'express-serve-static-core' {
  interface Request {
    principal?: Principal;
  }
}

const BEARER_RE = /^Bearer ([^\s]+)$/;

export function authenticate(pool: Pool) {
  return async (req: Request, _res: Response, next: NextFunction) => {
    const header = req.headers.authorization;
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
