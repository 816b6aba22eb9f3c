/**
 * Per-key request rate limits (requests per minute by tier) with rate-limiter-flexible on Redis, so
 * every API replica shares one budget. If Redis is unreachable an in-memory limiter per replica takes
 * over (insurance): requests stay limited, just per replica, instead of all failing.
 */
import type { NextFunction, Request, Response } from 'express';
import type { Redis } from 'ioredis';
import { RateLimiterMemory, RateLimiterRedis, RateLimiterRes } from 'rate-limiter-flexible';
import { TIERS, type Tier } from '../common/constants';
import type { TierLimits } from '../common/tiers';
import { principalOf } from './auth';
import { ApiError } from './errors';

const WINDOW_SECONDS = 60;

export function rateLimit(redis: Redis, tiers: Record<Tier, TierLimits>) {
  const limiters = Object.fromEntries(
    TIERS.map((tier) => [
      tier,
      new RateLimiterRedis({
        storeClient: redis,
        keyPrefix: `fs:rl:${tier}`,
        points: tiers[tier].requestsPerMinute,
        duration: WINDOW_SECONDS,
        insuranceLimiter: new RateLimiterMemory({ points: tiers[tier].requestsPerMinute, duration: WINDOW_SECONDS }),
      }),
    ]),
  ) as Record<Tier, RateLimiterRedis>;

  return async (req: Request, res: Response, next: NextFunction) => {
    const me = principalOf(req);
    try {
      const r = await limiters[me.tier].consume(me.keyId);
      res.setHeader('RateLimit-Limit', String(tiers[me.tier].requestsPerMinute));
      res.setHeader('RateLimit-Remaining', String(r.remainingPoints));
    } catch (err) {
      if (!(err instanceof RateLimiterRes)) throw err;
      const retryAfter = Math.max(1, Math.ceil(err.msBeforeNext / 1000));
      throw new ApiError(
        429,
        'rate_limited',
        `too many requests: your tier allows ${tiers[me.tier].requestsPerMinute} per minute per key`,
        {
          limit: tiers[me.tier].requestsPerMinute,
          used: err.consumedPoints,
          resetAt: new Date(Date.now() + err.msBeforeNext).toISOString(),
        },
        { 'Retry-After': String(retryAfter) },
      );
    }
    next();
  };
}
