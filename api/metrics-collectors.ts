/**
 * Gauges the API refreshes when Prometheus scrapes it: queue backlog by priority key (Temporal's
 * DescribeTaskQueue), users and quota use by tier, revenue per GPU hour (Postgres). Every API replica
 * reports the same values; dashboards take `max` over replicas.
 */
import type { Client } from '@temporalio/client';
import { temporal as proto } from '@temporalio/proto';
import type { Pool } from 'pg';
import { JobRepository } from '../jobs/repository';
import { TASK_QUEUES, TIERS, type Tier } from '../common/constants';
import { queueBacklog, quotaUtilisation, revenuePerGpuHourGauge, usersByTier } from '../common/metrics';
import { GPU_BACKENDS, revenuePerGpuHour } from '../common/prices';
import type { TierLimits } from '../common/tiers';

const { TaskQueueType, TaskQueueKind } = proto.api.enums.v1;
/** The server caches task-queue stats for about this long; polling faster only adds load. */
const BACKLOG_POLL_MS = 5_000;

/** Tasks waiting per priority key on one task queue (workflow and activity tasks together). */
export async function describeBacklog(client: Client, namespace: string, queue: string): Promise<Map<string, number>> {
  const out = new Map<string, number>();
  for (const taskQueueType of [TaskQueueType.TASK_QUEUE_TYPE_WORKFLOW, TaskQueueType.TASK_QUEUE_TYPE_ACTIVITY]) {
    const res = await client.workflowService.describeTaskQueue({
      namespace,
      taskQueue: { name: queue, kind: TaskQueueKind.TASK_QUEUE_KIND_NORMAL },
      taskQueueType,
      reportStats: true,
    });
    for (const [key, stats] of Object.entries(res.statsByPriorityKey ?? {})) {
      out.set(key, (out.get(key) ?? 0) + Number(stats.approximateBacklogCount ?? 0));
    }
  }
  return out;
}

export interface ApiCollectorDeps {
  pool: Pool;
  temporal: Client;
  namespace: string;
  tiers: Record<Tier, TierLimits>;
}

/** The refresher to register with `onScrape` (common/metrics). */
export function apiCollectors(deps: ApiCollectorDeps): () => Promise<void> {
  let backlogAt = 0;
  const refreshBacklog = async () => {
    if (Date.now() - backlogAt < BACKLOG_POLL_MS) return;
    backlogAt = Date.now();
    const queues = Object.values(TASK_QUEUES);
    const all = await Promise.all(queues.map((q) => describeBacklog(deps.temporal, deps.namespace, q).catch(() => null)));
    // Priority keys that emptied must read 0, not their last value: rebuild the series each poll.
    queueBacklog.reset();
    queues.forEach((queue, i) => {
      for (const [priority, n] of all[i] ?? []) queueBacklog.set({ queue, priority }, n);
    });
  };
  return async () => {
    await Promise.all([
      refreshBacklog(),
      refreshUsers(deps.pool),
      refreshQuota(deps.pool, deps.tiers),
      refreshRevenue(deps.pool),
    ]);
  };
}

async function refreshUsers(pool: Pool): Promise<void> {
  const { rows } = await pool.query<{ tier: Tier; n: string }>('SELECT tier, count(*) AS n FROM users GROUP BY tier');
  for (const t of TIERS) usersByTier.set({ tier: t }, Number(rows.find((r) => r.tier === t)?.n ?? 0));
}

/**
 * Mean per-user quota use among the tier's users active today (UTC): net reserved seconds (reserved −
 * refunded, which includes what was charged) over the daily limit; for a tier without a daily limit,
 * open reservations (running jobs) over the concurrent-job limit.
 */
async function refreshQuota(pool: Pool, tiers: Record<Tier, TierLimits>): Promise<void> {
  const { rows } = await pool.query<{ tier: Tier; used: string; open_jobs: string }>(
    `SELECT u.tier,
            sum(CASE l.kind WHEN 'reserve' THEN l.seconds WHEN 'refund' THEN -l.seconds ELSE 0 END) AS used,
            count(*) FILTER (WHERE l.kind = 'reserve' AND NOT EXISTS (
              SELECT 1 FROM usage_ledger r WHERE r.job_id = l.job_id AND r.kind = 'refund')) AS open_jobs
       FROM usage_ledger l JOIN users u ON u.id = l.user_id
      WHERE l.day = (now() AT TIME ZONE 'UTC')::date
      GROUP BY u.id, u.tier`,
  );
  for (const t of TIERS) {
    const mine = rows.filter((r) => r.tier === t);
    if (mine.length === 0) {
      quotaUtilisation.set({ tier: t }, 0);
      continue;
    }
    const limits = tiers[t];
    const ratios = mine.map((r) =>
      limits.dailySeconds !== null ? Number(r.used) / limits.dailySeconds : Number(r.open_jobs) / limits.concurrentJobs,
    );
    quotaUtilisation.set({ tier: t }, ratios.reduce((a, b) => a + b, 0) / ratios.length);
  }
}

/** Revenue per GPU-hour over the last hour's completed jobs on GPU backends (common/prices). */
async function refreshRevenue(pool: Pool): Promise<void> {
  const rows = await new JobRepository(pool).recentGpuUse(GPU_BACKENDS);
  revenuePerGpuHourGauge.set(
    revenuePerGpuHour(rows.map((r) => ({ tier: r.tier as Tier, billedSeconds: Number(r.billed ?? 0), inferenceMs: Number(r.ms ?? 0) }))),
  );
}
