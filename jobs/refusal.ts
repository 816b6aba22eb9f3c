/**
 * Why a job was not admitted, in domain terms: our error code, a sentence for the user, the numbers
 * behind it (`details`), the request field it is about (`field`, OpenAI's `param`) and when trying
 * again may help (`retryAfterSeconds`). No transport here: api/errors.ts turns a refusal into our JSON
 * error or OpenAI's, api/listen.ts into a WebSocket `error` frame, each with its own status or close
 * code. Plain data, so it also crosses the workflow boundary (common/edge.ts EdgeAudioOutcome).
 */
import type { TierLimits } from '../common/tiers';

/** Every code a refusal can carry (the OpenAPI document's error codes for admission). */
export type RefusalCode =
  | 'invalid_request'
  | 'missing_file'
  | 'model_not_allowed'
  | 'file_too_large'
  | 'audio_too_long'
  | 'unsupported_audio'
  | 'edge_not_possible'
  | 'not_awaiting_audio'
  | 'concurrency_limit'
  | 'quota_exceeded'
  | 'no_capacity'
  | 'quota_unavailable'
  | 'unavailable';

export interface Refusal {
  code: RefusalCode;
  message: string;
  /** machine-readable numbers (`limit`, `used`, `resetAt`), sent with the error */
  details: Record<string, unknown>;
  /** the request field the refusal is about (`file`, `model`, `retainAudioSeconds`, …), if one */
  field?: string;
  /** seconds after which the same request may succeed (HTTP Retry-After), if known */
  retryAfterSeconds?: number;
}

/** A refusal thrown inside the jobs module; {@link admitOrRefuse} turns it back into a value. */
export class JobRefusal extends Error {
  constructor(readonly refusal: Refusal) {
    super(refusal.message);
  }
}

/** Builds a refusal (the field defaulting from the code: an audio problem is about `file`). */
export function refusal(code: RefusalCode, message: string, extra: Omit<Partial<Refusal>, 'code' | 'message'> = {}): Refusal {
  const field = extra.field ?? FIELD_OF_CODE[code];
  return { code, message, details: extra.details ?? {}, ...(field ? { field } : {}), ...(extra.retryAfterSeconds !== undefined ? { retryAfterSeconds: extra.retryAfterSeconds } : {}) };
}

/** Throws {@link refusal}'s result as a {@link JobRefusal}. */
export function refuse(code: RefusalCode, message: string, extra: Omit<Partial<Refusal>, 'code' | 'message'> = {}): never {
  throw new JobRefusal(refusal(code, message, extra));
}

/** Codes that are always about one request field. */
const FIELD_OF_CODE: Partial<Record<RefusalCode, string>> = {
  missing_file: 'file',
  file_too_large: 'file',
  audio_too_long: 'file',
  unsupported_audio: 'file',
  model_not_allowed: 'model',
};

/** A slot frees when a running job ends: there is no fixed time, so a short wait is suggested. */
export const CONCURRENCY_RETRY_AFTER_S = 30;
export const NO_CAPACITY_RETRY_AFTER_S = 30;
export const UNAVAILABLE_RETRY_AFTER_S = 5;

/** The quota store (Redis) did not answer: admission fails closed. */
export function quotaUnavailable(): Refusal {
  return refusal('quota_unavailable', 'the quota store is unavailable; try again shortly', { retryAfterSeconds: UNAVAILABLE_RETRY_AFTER_S });
}

/** Too many jobs running for the tier. */
export function concurrencyRefusal(activeJobs: number, limits: TierLimits): Refusal {
  return refusal('concurrency_limit', `you already have ${activeJobs} job(s) running; your tier allows ${limits.concurrentJobs} at a time`, {
    details: { limit: limits.concurrentJobs, used: activeJobs, resetAt: null },
    retryAfterSeconds: CONCURRENCY_RETRY_AFTER_S,
  });
}

/** The file's seconds would go over the day's quota; it resets at `resetAt` (UTC midnight). */
export function quotaExceededRefusal(usedSeconds: number, limits: TierLimits, resetAt: Date, now = Date.now()): Refusal {
  return refusal('quota_exceeded', `this file would exceed your daily audio quota (${usedSeconds} of ${limits.dailySeconds} seconds used today, UTC)`, {
    details: { limit: limits.dailySeconds, used: usedSeconds, resetAt: resetAt.toISOString() },
    retryAfterSeconds: Math.max(1, Math.ceil((resetAt.getTime() - now) / 1000)),
  });
}

/** The job's rows were written and its reservation made, but its workflow could not be started. */
export function notStarted(what = 'the job'): Refusal {
  return refusal('unavailable', `${what} could not be started; try again`, { retryAfterSeconds: UNAVAILABLE_RETRY_AFTER_S });
}
