/**
 * Live stats of the inference task queues from Temporal's DescribeTaskQueue (pollers and backlog),
 * not our own bookkeeping. The server caches its stats for ~5 s, so we do too.
 */
import type { Client } from '@temporalio/client';
import { temporal as proto } from '@temporalio/proto';
import { BACKENDS, BACKEND_TASK_QUEUE, type Backend } from '../common/constants';
import type { QueueStats } from '../common/backends';

const CACHE_MS = 5_000;

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
      return {
        pollers: res.pollers?.length ?? 0,
        backlog: Number(res.stats?.approximateBacklogCount ?? 0),
      };
    } catch {
      return { pollers: 0, backlog: 0 };
    }
  }
}
