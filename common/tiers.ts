import type { Tier } from './constants';

/**
 * Per-tier quotas (README "Quotas and tiers"). Durations in seconds, sizes in bytes (MB = 1,000,000 bytes).
 * `dailySeconds: null` means unlimited. The table is config: `FAIRSCRIBE_TIERS_FILE` may replace it.
 */
export interface TierLimits {
  dailySeconds: number | null;
  concurrentJobs: number;
  maxFileBytes: number;
  maxAudioSeconds: number;
  /** Requests per minute per API key. */
  requestsPerMinute: number;
  /** Weighted-fair-dispatch share inside a priority level (premium 1.0, standard 0.5, free 0.1; docs/scheduling.md). */
  fairnessWeight: number;
}

/**
 * The longest a job's audio may be kept for re-transcription (`retainAudioSeconds`), per tier: an hour on
 * free, a week on standard, 30 days on premium. 0 (the default) keeps nothing.
 */
export const MAX_RETAIN_AUDIO_SECONDS: Record<Tier, number> = { free: 3600, standard: 7 * 24 * 3600, premium: 30 * 24 * 3600 };

const MB = 1_000_000;
const MINUTE = 60;
const HOUR = 3600;

export const DEFAULT_TIERS: Record<Tier, TierLimits> = {
  free: {
    dailySeconds: 30 * MINUTE,
    concurrentJobs: 1,
    maxFileBytes: 25 * MB,
    maxAudioSeconds: 30 * MINUTE,
    requestsPerMinute: 60,
    fairnessWeight: 0.1,
  },
  standard: {
    dailySeconds: 300 * MINUTE,
    concurrentJobs: 3,
    maxFileBytes: 100 * MB,
    maxAudioSeconds: 4 * HOUR,
    requestsPerMinute: 300,
    fairnessWeight: 0.5,
  },
  premium: {
    dailySeconds: null,
    concurrentJobs: 10,
    maxFileBytes: 500 * MB,
    maxAudioSeconds: 12 * HOUR,
    requestsPerMinute: 1200,
    fairnessWeight: 1.0,
  },
};
