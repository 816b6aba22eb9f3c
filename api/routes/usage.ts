/**
 * `GET /v1/usage[?day=YYYY-MM-DD]`: the caller's own quota, so a user can see how much of the day's audio is
 * left before submitting (and why a 429 came) without making a job. Numbers come from the usage ledger in
 * Postgres (the truth that `admin usage` reads and `quota rebuild` rebuilds Redis from), so the route answers
 * even while Redis is down; `usedSeconds` is what admission's 429 `quota_exceeded` calls `used`.
 */
import { Router, type Request, type Response } from 'express';
import { nextUtcMidnight, utcDay } from '../../quota/keys';
import { principalOf } from '../auth';
import type { ApiDeps } from '../app';
import { parseQuery, usageQuery } from '../schemas';

export function usageRouter(deps: ApiDeps): Router {
  const r = Router();
  r.get('/v1/usage', async (req: Request, res: Response) => {
    const me = principalOf(req);
    const day = parseQuery(usageQuery, req.query).day ?? utcDay();
    const limits = deps.config.tiers[me.tier];
    const u = await deps.quota.usage(me.userId, day);
    // The day's seconds reset at the UTC midnight that ends it (quota/keys.ts: one Redis counter per UTC day).
    const resetAt = nextUtcMidnight(new Date(`${day}T00:00:00Z`));
    res.json({
      tier: me.tier,
      day,
      usedSeconds: u.reservedSeconds,
      billedSeconds: u.billedSeconds,
      limitSeconds: limits.dailySeconds,
      remainingSeconds: limits.dailySeconds === null ? null : Math.max(0, limits.dailySeconds - u.reservedSeconds),
      resetAt: resetAt.toISOString(),
      activeJobs: u.activeJobs,
      limits: {
        dailySeconds: limits.dailySeconds,
        concurrentJobs: limits.concurrentJobs,
        maxFileBytes: limits.maxFileBytes,
        maxAudioSeconds: limits.maxAudioSeconds,
        requestsPerMinute: limits.requestsPerMinute,
      },
    });
  });
  return r;
}
