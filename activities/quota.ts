/** Quota settlement on the orchestration queue (the reservation itself happens in the API at admission). */
import type { QuotaService } from '../quota/quota-service';

export function createQuotaActivities({ quota }: { quota: QuotaService }) {
  return {
    /**
     * Charges the billed seconds and gives back the rest of the job's reservation (billedSeconds 0:
     * release all, for failed, cancelled and expired jobs). Idempotent by job id: Temporal retries and
     * replays never charge twice.
     */
    async settleQuota({ jobId, billedSeconds }: { jobId: string; billedSeconds: number }) {
      return quota.settle(jobId, billedSeconds);
    },
  };
}
