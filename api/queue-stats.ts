/**
 * Live stats of the inference task queues from Temporal's DescribeTaskQueue (pollers and backlog),
 * not our own bookkeeping. The server caches its stats for ~5 s, so we do too.
 */
import type { Client } from '@temporalio/client';
import { temporal as proto } from '@temporalio/proto';
import { BACKENDS, BACKEND_TASK_QUEUE, type Backend } from '../common/constants';
import type { QueueStats } from '../common/backends';
import { settleWithin } from '../common/deadline';

const CACHE_MS = 5_000;

/**
 * How long admission waits for DescribeTaskQueue before it takes Temporal as not answering. The server answers from
 * its in-memory queue stats in milliseconds (a few ms here on the dev server, tens across a cluster); 10 s leaves a
 * loaded 2-core CI machine (load 7–10 seen) far from a spurious refusal; a server that is paused or wedged never answers, and admission, which starts the job's workflow next, would hang with it (a new
 * user's check: `kill -STOP` on the Temporal server held POST /v1/jobs for over 120 s, then admitted the job).
 */
export const DESCRIBE_DEADLINE_MS = 10_000;

/** DescribeTaskQueue did not answer within DESCRIBE_DEADLINE_MS: Temporal is not serving (jobs/admission.ts refuses `unavailable`). */
export class TemporalNotAnswering extends Error {
  constructor(ms: number) {
    super(`Temporal did not answer DescribeTaskQueue within ${ms} ms`);
    this.name = 'TemporalNotAnswering';
  }
}
/**
 * The server lists a poller for minutes after its worker is gone; a live worker's long poll returns
 * within about a minute and polls again, so only pollers seen this recently count as capacity.
 */
const POLLER_FRESH_MS = 75_000;

export class TaskQueueStats {
  private cached: { at: number; value: Promise<Partial<Record<Backend, QueueStats>>> } | null = null;

  constructor(
    private readonly client: Pick<Client, 'workflowService'>,
    private readonly namespace: string,
    private readonly deadlineMs = DESCRIBE_DEADLINE_MS,
  ) {}

  /**
   * Pollers and backlog of every backend's activity queue (a queue that cannot be described counts as empty).
   * @throws TemporalNotAnswering when the server does not answer within the deadline (nothing is cached then)
   */
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
      const res = await settleWithin(
        this.client.workflowService.describeTaskQueue({
          namespace: this.namespace,
          taskQueue: { name, kind: proto.api.enums.v1.TaskQueueKind.TASK_QUEUE_KIND_NORMAL },
          taskQueueType: proto.api.enums.v1.TaskQueueType.TASK_QUEUE_TYPE_ACTIVITY,
          reportStats: true,
        }),
        this.deadlineMs,
        () => {
          throw new TemporalNotAnswering(this.deadlineMs);
        },
      );
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
    } catch (err) {
      if (err instanceof TemporalNotAnswering) throw err;
      return { pollers: 0, backlog: 0 };
    }
  }
}
