/**
 * Refusals an upload route can decide from the request's headers alone, before any byte of the body is
 * read: a request that will be refused should not first pay for its upload (a socket held while the body
 * arrives, a file written, hashed and probed). The key and the rate limit are checked before this
 * (api/auth.ts, api/rate-limit.ts) and the user's upload slots after it (api/upload-slots.ts).
 *
 * Each check refuses only what admission would certainly refuse later, with the same code and details:
 * - declared size: a Content-Length larger than the tier's file limit plus everything else a multipart
 *   body may carry (at most 50 text fields of 16 KB, their part headers and the framing) means the file
 *   part alone is over the limit: 413 `file_too_large`, as the streaming check would answer.
 * - running jobs: the user already holds every concurrency slot of the tier (the Redis counters that
 *   admission's reservation decides on, quota/lua/reserve-3.lua): 429 `concurrency_limit`. Privacy-mode
 *   jobs hold a slot too, so this holds for every request on `POST /v1/jobs`; but not for a retry that
 *   may answer with an earlier job (an Idempotency-Key, or the OpenAI routes' same-content rule), which
 *   the caller leaves out.
 * - daily quota: the day's seconds are all used: 429 `quota_exceeded` — only for a body that must carry
 *   a file (over the fields-only size above), because a privacy-mode request reserves no seconds.
 * A check whose store is unreachable is skipped: admission decides (and answers 503) as before.
 */
import type { Request } from 'express';
import { refusedBeforeBodyTotal } from '../common/metrics';
import type { Principal } from '../common/keys';
import type { TierLimits } from '../common/tiers';
import { nextUtcMidnight, utcDay } from '../quota/keys';
import type { QuotaService } from '../quota/quota-service';
import { ApiError } from './errors';

/** The most a multipart body may carry besides its file: busboy's limits in api/upload.ts (50 fields of 16 KB) with part headers and framing. */
export const NON_FILE_BODY_MAX_BYTES = 50 * (16 * 1024 + 512) + 4096;
/** As admission's own concurrency refusal (api/admission.ts): a slot frees when a job ends, at no fixed time. */
const CONCURRENCY_RETRY_AFTER_S = 30;

export interface EarlyRefusalOptions {
  /** the file limit in bytes this route enforces while streaming */
  maxFileBytes: number;
  /** refuse when every concurrency slot is held, and (bodies that must carry a file) when the day's quota is spent */
  slots?: boolean;
}

/** The request's declared body size, or null without a usable Content-Length (chunked uploads). */
export function declaredBytes(req: Pick<Request, 'headers'>): number | null {
  const raw = req.headers['content-length'];
  if (raw === undefined || !/^\d+$/.test(raw)) return null;
  return Number(raw);
}

/**
 * Refuses, before the body is read, what admission would refuse anyway (see the file comment).
 * @throws ApiError 413 file_too_large, 429 concurrency_limit | quota_exceeded
 */
export async function refuseBeforeBody(
  quota: Pick<QuotaService, 'counters'> | undefined,
  req: Pick<Request, 'headers'>,
  me: Principal,
  limits: TierLimits,
  opts: EarlyRefusalOptions,
): Promise<void> {
  try {
    await check(quota, req, me, limits, opts);
  } catch (err) {
    if (err instanceof ApiError) refusedBeforeBodyTotal.inc({ tier: me.tier, code: err.code });
    throw err;
  }
}

async function check(
  quota: Pick<QuotaService, 'counters'> | undefined,
  req: Pick<Request, 'headers'>,
  me: Principal,
  limits: TierLimits,
  opts: EarlyRefusalOptions,
): Promise<void> {
  const bytes = declaredBytes(req);
  if (bytes !== null && bytes > opts.maxFileBytes + NON_FILE_BODY_MAX_BYTES) {
    throw new ApiError(413, 'file_too_large', `the file is larger than your tier's limit of ${opts.maxFileBytes} bytes`, { limit: opts.maxFileBytes });
  }
  if (!opts.slots || !quota) return;
  const now = new Date();
  let counters;
  try {
    counters = await quota.counters(me.userId, utcDay(now));
  } catch {
    return; // the store is down: admission answers for it
  }
  if (counters.activeJobs >= limits.concurrentJobs) {
    throw new ApiError(
      429,
      'concurrency_limit',
      `you already have ${counters.activeJobs} job(s) running; your tier allows ${limits.concurrentJobs} at a time`,
      { limit: limits.concurrentJobs, used: counters.activeJobs, resetAt: null },
      { 'Retry-After': String(CONCURRENCY_RETRY_AFTER_S) },
    );
  }
  const mustCarryFile = bytes !== null && bytes > NON_FILE_BODY_MAX_BYTES;
  if (mustCarryFile && limits.dailySeconds !== null && counters.usedSeconds >= limits.dailySeconds) {
    const resetAt = nextUtcMidnight(now);
    throw new ApiError(
      429,
      'quota_exceeded',
      `this file would exceed your daily audio quota (${counters.usedSeconds} of ${limits.dailySeconds} seconds used today, UTC)`,
      { limit: limits.dailySeconds, used: counters.usedSeconds, resetAt: resetAt.toISOString() },
      { 'Retry-After': String(Math.max(1, Math.ceil((resetAt.getTime() - now.getTime()) / 1000))) },
    );
  }
}
