/**
 * Live stats of the inference task queues from Temporal's DescribeTaskQueue (pollers and backlog),
 * not our own bookkeeping. The server caches its stats for ~5 s, so we do too.
 */
import type { Client } from '@temporalio/client';
import { temporal as proto } from '@temporalio/proto';
import { BACKENDS, BACKEND_TASK_QUEUE, type Backend } from '../common/constants';
import type { QueueStats } from '../common/backends';

const CACHE_MS = 5_000;
/**
 * The server lists a poller for minutes after its worker is gone; a live worker's long poll returns
 * within about a minute and polls again, so only pollers seen this recently count as capacity.
 */
const POLLER_FRESH_MS = 75_000;

export class TaskQueueStats {
  private cached: { at: number; value: Promise<Partial<Record<Backend, QueueStats>>> } | null = null;

  constructor(
    private readonly client: Client,
    private readonly namespace: string,
  ) {}

  /** Pollers and backlog of every backend's activity queue (a queue that cannot be described counts as empty). */
  get(now = Date.now()): Promise<Partial<Record<Backend, QueueStats>>> {
    if (this.cached && now - this.cached.at < CACHE_MS) return this.cached.value;
    const value = Promise.all(BACKENDS.map((b) => this.describe(BACKEND_TASK_QUEUE[b]))).then((all) =>
      Object.fromEntries(BACKENDS.map((b, i) => [b, all[i]])),
    );
    this.cached = { at: now, value };
    value.catch(() => (this.cached = null));
    return value;
  }

  private async describe(name: string): Promise<QueueStats> {
    try {
      const res = await this.client.workflowService.describeTaskQueue({
        namespace: this.namespace,
        taskQueue: { name, kind: proto.api.enums.v1.TaskQueueKind.TASK_QUEUE_KIND_NORMAL },
        taskQueueType: proto.api.enums.v1.TaskQueueType.TASK_QUEUE_TYPE_ACTIVITY,
        reportStats: true,
      });
      const now = Date.now();
      const fresh = (res.pollers ?? []).filter((p) => {
        const t = p.lastAccessTime;
        if (!t?.seconds) return true;
        return now - (Number(t.seconds) * 1000 + Math.floor((t.nanos ?? 0) / 1e6)) < POLLER_FRESH_MS;
      });
      return {
        pollers: fresh.length,
        backlog: Number(res.stats?.approximateBacklogCount ?? 0),
      };
    } catch {
      return { pollers: 0, backlog: 0 };
    }
  }
}
