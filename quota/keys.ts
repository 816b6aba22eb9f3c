/**
 * Redis keys of the quota store. Every key of one user shares the `{userId}` hash tag, so a script that
 * touches them runs on one Redis Cluster slot.
 */
export const QUOTA_PREFIX = 'fs:quota:';

export const quotaKeys = {
  day: (userId: string, day: string) => `${QUOTA_PREFIX}{${userId}}:day:${day}`,
  active: (userId: string) => `${QUOTA_PREFIX}{${userId}}:active`,
  job: (userId: string, jobId: string) => `${QUOTA_PREFIX}{${userId}}:job:${jobId}`,
  /** the refund of a settled job, kept for two days so a rebuild from an older snapshot skips it */
  settled: (userId: string, jobId: string) => `${QUOTA_PREFIX}{${userId}}:settled:${jobId}`,
  /** set once the counters have been rebuilt from Postgres; its absence means Redis lost its data */
  built: () => `${QUOTA_PREFIX}built`,
};

/** The UTC day of an instant, `YYYY-MM-DD`: daily minutes reset at UTC midnight. */
export function utcDay(at: Date = new Date()): string {
  return at.toISOString().slice(0, 10);
}

/** The next UTC midnight after `at`. */
export function nextUtcMidnight(at: Date = new Date()): Date {
  return new Date(Date.UTC(at.getUTCFullYear(), at.getUTCMonth(), at.getUTCDate() + 1));
}

/** Day counters outlive their day by one, for jobs admitted just before midnight and settled after. */
export const DAY_KEY_TTL_SECONDS = 2 * 24 * 3600;
