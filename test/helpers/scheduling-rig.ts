/**
 * A rig for measuring Temporal's dispatch order under fairscribe's priority keys (test/integration/scheduling
 * and bench/scheduling). Jobs are `fanOutJob` workflows (test/helpers/scheduling-workflows.ts) started with the
 * priority exactly as api/admission.ts starts a transcription (priorityKey by priorityClass, fairnessKey =
 * user id, fairnessWeight by tier); their chunk activities inherit it. One activity worker with a small slot
 * count stands in for an inference worker: each chunk records who it was and when it was scheduled / started,
 * then sleeps a fixed "batch run". Everything runs on task queues named after the rig, so rigs never share work.
 */
import * as crypto from 'node:crypto';
import * as fs from 'node:fs';
import * as path from 'node:path';
import { Client, Connection, type WorkflowHandle } from '@temporalio/client';
import type { Priority } from '@temporalio/common';
import { temporal } from '@temporalio/proto';
import { Context } from '@temporalio/activity';
import { DefaultLogger, NativeConnection, Runtime, Worker, bundleWorkflowCode } from '@temporalio/worker';
import { PRIORITY_KEYS, type PriorityClass, type Tier } from '../../common/constants';
import { DEFAULT_TIERS, type TierLimits } from '../../common/tiers';
import { REPO_ROOT } from '../../common/config';
import type { FanOutInput, SchedActivities, SchedChunkInput } from './scheduling-workflows';

const WORKFLOWS_FILE = path.join(__dirname, 'scheduling-workflows.ts');

/** The fan-out workflow's bundle, cached by the hash of its source (webpack takes seconds on two cores). */
export async function schedulingBundle(cacheDir = path.join(REPO_ROOT, '.data', 'cache')): Promise<{ code: string }> {
  const hash = crypto
    .createHash('sha256')
    .update(fs.readFileSync(WORKFLOWS_FILE))
    .update(fs.readFileSync(path.join(REPO_ROOT, 'package-lock.json')))
    .digest('hex')
    .slice(0, 16);
  const file = path.join(cacheDir, `scheduling-bundle-${hash}.js`);
  if (fs.existsSync(file)) return { code: fs.readFileSync(file, 'utf8') };
  const noop = () => undefined;
  const logger = { trace: noop, debug: noop, info: noop, warn: noop, error: (m: string) => console.error(m), log: noop };
  const { code } = await bundleWorkflowCode({ workflowsPath: WORKFLOWS_FILE, logger });
  fs.mkdirSync(cacheDir, { recursive: true });
  const tmp = `${file}.${process.pid}.tmp`;
  fs.writeFileSync(tmp, code);
  fs.renameSync(tmp, file);
  return { code };
}

/**
 * The priority a job's workflow is started with: the same expression as `temporal.workflow.start(...,
 * { priority })` in api/admission.ts (keep the two in step).
 */
export function jobPriority(
  userId: string,
  tier: Tier,
  priorityClass: PriorityClass = 'interactive',
  tiers: Record<Tier, TierLimits> = DEFAULT_TIERS,
): Priority {
  return { priorityKey: PRIORITY_KEYS[priorityClass], fairnessKey: userId, fairnessWeight: tiers[tier].fairnessWeight };
}

/** One chunk activity as the worker saw it. Times are epoch ms (server and worker share this host's clock). */
export interface ChunkRecord {
  /** Start order on this rig's worker, from 0. */
  seq: number;
  userId: string;
  tier: string;
  jobId: string;
  priorityClass: string;
  chunk: number;
  /** The priority the activity task carried (inherited from its workflow). */
  priority: Priority;
  /** When the server scheduled the activity (ActivityInfo.scheduledTimestampMs). */
  scheduledMs: number;
  startMs: number;
  endMs?: number;
}

export interface JobSpec {
  jobId?: string;
  userId: string;
  tier: Tier;
  priorityClass?: PriorityClass;
  chunks: number;
  /** Default: all chunks at once (the biggest backlog a job can make); the real workflow uses 16. */
  maxInFlight?: number;
}

export interface RigOptions {
  address: string;
  namespace?: string;
  /** Unique per rig: the queues are `sched-<name>-wf` and `sched-<name>-act`. */
  name: string;
  /** maxConcurrentActivityTaskExecutions of the stand-in inference worker. */
  slots: number;
  /** How long one chunk occupies a slot (the "batch run"). */
  batchMs: number;
  bundle: { code: string };
  tiers?: Record<Tier, TierLimits>;
}

let runtimeInstalled = false;
function installRuntime(): void {
  if (runtimeInstalled) return;
  runtimeInstalled = true;
  try {
    Runtime.install({ logger: new DefaultLogger('WARN') });
  } catch {
    // already installed in this process
  }
}

/** The worker's slot hold (SchedulingRig.holdSlot): while `held` is set, a chunk that ran its batch run waits on it. */
interface SlotGate {
  held: Promise<void> | null;
  release: () => void;
  /** Chunks started on the worker so far, warm-up included (records drops those). */
  started: number;
}

const sleep = (ms: number) => new Promise<void>((r) => setTimeout(r, ms));

/** The user whose chunks warm a queue up (see SchedulingRig.warmUp); they take no time on the worker. */
export const WARMUP_USER = 'warmup';

export class SchedulingRig {
  readonly handles: WorkflowHandle[] = [];
  readonly workflowQueue: string;
  readonly activityQueue: string;
  private jobSeq = 0;
  /** Chunks of every job submitted on this rig, warm-up included. */
  private submittedChunks = 0;
  private readonly jobOf = new Map<string, string>();

  private constructor(
    readonly opts: RigOptions,
    /** Every chunk started on this rig's worker, in start order. */
    readonly records: ChunkRecord[],
    readonly client: Client,
    private readonly clientConnection: Connection,
    private readonly workerConnection: NativeConnection,
    private readonly workers: { worker: Worker; running: Promise<void> }[],
    private readonly gate: SlotGate,
  ) {
    this.workflowQueue = `sched-${opts.name}-wf`;
    this.activityQueue = `sched-${opts.name}-act`;
  }

  static async start(opts: RigOptions): Promise<SchedulingRig> {
    installRuntime();
    const namespace = opts.namespace ?? 'default';
    const records: ChunkRecord[] = [];
    const gate: SlotGate = { held: null, release: () => undefined, started: 0 };
    const activities: SchedActivities = {
      async schedChunk(input: SchedChunkInput): Promise<void> {
        const ctx = Context.current();
        const rec: ChunkRecord = {
          seq: records.length,
          ...input,
          priority: ctx.info.priority ?? {},
          scheduledMs: ctx.info.scheduledTimestampMs,
          startMs: Date.now(),
        };
        records.push(rec);
        gate.started++;
        try {
          if (input.userId !== WARMUP_USER) await ctx.sleep(opts.batchMs);
          // A held slot is not released (so the worker does not poll) until the rig lets go: see holdSlot.
          while (gate.held) await gate.held;
        } finally {
          rec.endMs = Date.now();
        }
      },
    };
    const workerConnection = await NativeConnection.connect({ address: opts.address });
    const clientConnection = await Connection.connect({ address: opts.address });
    const client = new Client({ connection: clientConnection, namespace });
    const wfQueue = `sched-${opts.name}-wf`;
    const actQueue = `sched-${opts.name}-act`;
    const created: Worker[] = [];
    try {
      created.push(
        await Worker.create({ connection: workerConnection, namespace, taskQueue: wfQueue, workflowBundle: opts.bundle }),
      );
      created.push(
        await Worker.create({
          connection: workerConnection,
          namespace,
          taskQueue: actQueue,
          activities,
          maxConcurrentActivityTaskExecutions: opts.slots,
        }),
      );
    } catch (err) {
      await workerConnection.close();
      await clientConnection.close();
      throw err;
    }
    const workers = created.map((worker) => ({ worker, running: worker.run() }));
    return new SchedulingRig(opts, records, client, clientConnection, workerConnection, workers, gate);
  }

  /**
   * Ages the queue like one that has been serving for a while. Server 1.29.1 gives a task the pass
   * max(ack level, previous pass of its fairness key + 1000 / weight), and the ack level of a fresh queue is 0, so
   * on a fresh queue a new key's first task lands at its own stride (premium 1000, free 10000) instead of at the
   * ack level: a free user's first chunk would queue behind ~10 premium chunks. After `chunks` instant chunks of
   * one premium user, dispatched from the backlog, the ack level is past the largest stride (free: 10000) as on
   * any queue that has run a while. `chunks` per task-queue partition: 16 with one partition. The warm-up chunks
   * are then dropped from `records`.
   */
  async warmUp(chunks = 16): Promise<void> {
    await (await this.submit({ userId: WARMUP_USER, tier: 'premium', chunks })).result();
    this.records.splice(0);
  }

  /** Starts one job's workflow the way the API does (priority on the workflow, inherited by its chunks). */
  async submit(job: JobSpec): Promise<WorkflowHandle> {
    const jobId = job.jobId ?? `${job.userId}-job${this.jobSeq++}`;
    const priorityClass = job.priorityClass ?? 'interactive';
    const input: FanOutInput = {
      activityQueue: this.activityQueue,
      jobId,
      userId: job.userId,
      tier: job.tier,
      priorityClass,
      chunks: job.chunks,
      maxInFlight: job.maxInFlight ?? job.chunks,
    };
    const handle = await this.client.workflow.start('fanOutJob', {
      workflowId: `sched-${this.opts.name}-${jobId}-${crypto.randomBytes(3).toString('hex')}`,
      taskQueue: this.workflowQueue,
      args: [input],
      priority: jobPriority(job.userId, job.tier, priorityClass, this.opts.tiers),
    });
    this.handles.push(handle);
    this.jobOf.set(handle.workflowId, jobId);
    this.submittedChunks += job.chunks;
    return handle;
  }

  /**
   * Waits until all `total` chunks of these jobs have been scheduled: those the server still holds (scheduled or
   * running, from DescribeWorkflowExecution) plus those that already finished on the worker.
   */
  async waitScheduled(handles: WorkflowHandle[], total: number, timeoutMs = 30_000): Promise<void> {
    const jobs = new Set(handles.map((h) => this.jobOf.get(h.workflowId)));
    await this.waitUntil(
      async () => (await this.pendingActivities(handles)) + this.records.filter((x) => jobs.has(x.jobId) && x.endMs !== undefined).length >= total,
      timeoutMs,
      `${total} chunks scheduled`,
    );
  }

  /** Activities the server holds for these jobs (scheduled or running), from DescribeWorkflowExecution. */
  async pendingActivities(handles: WorkflowHandle[]): Promise<number> {
    const counts = await Promise.all(handles.map(async (h) => (await h.describe()).raw.pendingActivities?.length ?? 0));
    return counts.reduce((a, b) => a + b, 0);
  }

  /**
   * Holds the worker's only slot: the chunk running now (or the next one to start) does not return until the
   * returned function is called, so the worker issues no poll meanwhile (the SDK polls only with a free slot).
   */
  holdSlot(): () => void {
    if (!this.gate.held) {
      this.gate.held = new Promise<void>((resolve) => {
        this.gate.release = () => {
          this.gate.held = null;
          resolve();
        };
      });
    }
    return () => this.gate.release();
  }

  /** The activity queue's backlog as matching counts it now (DescribeTaskQueue report_stats; uncached in tests). */
  async backlog(): Promise<number> {
    const res = await this.client.workflowService.describeTaskQueue({
      namespace: this.client.options.namespace,
      taskQueue: { name: this.activityQueue },
      taskQueueType: temporal.api.enums.v1.TaskQueueType.TASK_QUEUE_TYPE_ACTIVITY,
      reportStats: true,
    });
    return Number(res.stats?.approximateBacklogCount ?? 0);
  }

  /**
   * With the slot held (holdSlot), waits until every chunk submitted on this rig is on the task queue's
   * matcher or started: a task reaches matching only after its ActivityTaskScheduled event (history's transfer
   * queue, then AddActivityTask), measured here from ~10 ms on an idle server to over a second when 200
   * tasks were scheduled at once. While held the worker takes nothing, so the backlog matching reports is
   * exactly (chunks that arrived) - (chunks started) and equals (submitted - started) only once all arrived.
   * Needs every job's chunks scheduled at once (maxInFlight = chunks, the default) and DescribeTaskQueue's
   * backlog uncached (test/helpers/global-setup.ts).
   * @returns epoch ms at which matching was seen holding them all (an upper bound of their arrival)
   */
  async waitInMatching(timeoutMs = 30_000): Promise<number> {
    if (!this.gate.held) throw new Error('waitInMatching needs the slot held (holdSlot): a dispatch would race the count');
    let seen = -1;
    await this.waitUntil(
      async () => (seen = await this.backlog()) === this.submittedChunks - this.gate.started,
      timeoutMs,
      'every submitted chunk on the matcher',
    ).catch((err: Error) => {
      throw new Error(`${err.message} (backlog ${seen}, want ${this.submittedChunks - this.gate.started})`);
    });
    return Date.now();
  }

  /** Polls `pred` every 20 ms. */
  async waitUntil(pred: () => boolean | Promise<boolean>, timeoutMs: number, what: string): Promise<void> {
    const deadline = Date.now() + timeoutMs;
    while (!(await pred())) {
      if (Date.now() > deadline) throw new Error(`timed out after ${timeoutMs} ms waiting for ${what}`);
      await sleep(20);
    }
  }

  /** Terminates every job still running, stops both workers and closes the connections. Idempotent enough. */
  async stop(): Promise<void> {
    await Promise.all(
      this.handles.map((h) => h.terminate('scheduling rig stopped').catch(() => undefined /* already closed */)),
    );
    this.gate.release();
    for (const { worker } of this.workers) if (worker.getState() === 'RUNNING') worker.shutdown();
    await Promise.all(this.workers.map((w) => w.running.catch(() => undefined)));
    await this.workerConnection.close().catch(() => undefined);
    await this.clientConnection.close().catch(() => undefined);
  }
}

// --- analysis ----------------------------------------------------------------------------------------------------

export function percentile(xs: number[], p: number): number {
  if (xs.length === 0) return NaN;
  const s = [...xs].sort((a, b) => a - b);
  const idx = Math.min(s.length - 1, Math.max(0, Math.ceil((p / 100) * s.length) - 1));
  return s[idx]!;
}

export function median(xs: number[]): number {
  if (xs.length === 0) return NaN;
  const s = [...xs].sort((a, b) => a - b);
  const m = s.length >> 1;
  return s.length % 2 ? s[m]! : (s[m - 1]! + s[m]!) / 2;
}

export function byStart(records: ChunkRecord[]): ChunkRecord[] {
  return [...records].sort((a, b) => a.startMs - b.startMs || a.seq - b.seq);
}

/**
 * How long after ActivityInfo.scheduledTimestampMs (history's ActivityTaskScheduled event) a task may still be on
 * its way to matching (history's transfer queue, then AddActivityTask): measured 7-47 ms here with the
 * worker idle, on two cores at load 10+. A poll issued before scheduled + this grace is not counted as "the
 * server had the task and chose another".
 */
export const TRANSFER_GRACE_MS = 100;

/**
 * When the worker asked for chunk `s[i]`: with ONE slot, the poll that fetched a chunk is issued after the
 * previous chunk's activity returned (the slot is released after that), so at or after its endMs.
 */
function polledAt(s: ChunkRecord[], i: number): number {
  return i > 0 ? s[i - 1]!.endMs ?? Infinity : -Infinity;
}

/**
 * Chunks of OTHER users that the server handed out while `rec` was already on it, and started before it: those
 * fetched by polls issued more than `graceMs` after `rec` was scheduled (one worker slot; see polledAt).
 */
export function dispatchedWhileWaiting(records: ChunkRecord[], rec: ChunkRecord, graceMs = TRANSFER_GRACE_MS): ChunkRecord[] {
  return dispatchedAfter(records, rec, rec.scheduledMs + graceMs + 1);
}

/**
 * Chunks of OTHER users started before `rec` by polls issued at or after `fromMs` (epoch ms): with `fromMs` the
 * moment matching was seen holding `rec` (SchedulingRig.waitInMatching), exactly the dispatches the server chose
 * over `rec` (one worker slot; see polledAt).
 */
export function dispatchedAfter(records: ChunkRecord[], rec: ChunkRecord, fromMs: number): ChunkRecord[] {
  const s = byStart(records);
  return s.filter((d, i) => d.userId !== rec.userId && d.seq < rec.seq && polledAt(s, i) >= fromMs);
}

/**
 * The chunks of `better` (a better class of work) that the server's matcher already held when the worker polled
 * for `d`, and that started after `d`: if not empty, `d` jumped the queue. One worker slot; see polledAt.
 * @param arrivedAt when a chunk was on the matcher (epoch ms): SchedulingRig.waitInMatching's answer for its
 *   job, or, without one, its scheduled time plus TRANSFER_GRACE_MS
 */
export function waitingWhenPolled(
  records: ChunkRecord[],
  d: ChunkRecord,
  better: ChunkRecord[],
  arrivedAt: (x: ChunkRecord) => number = (x) => x.scheduledMs + TRANSFER_GRACE_MS + 1,
): ChunkRecord[] {
  const s = byStart(records);
  const at = polledAt(s, s.indexOf(d));
  return better.filter((x) => x !== d && arrivedAt(x) <= at && x.seq > d.seq);
}

/** The effective batch run: median start-to-start interval of consecutive dispatches, per slot. */
export function effectiveBatchMs(records: ChunkRecord[], slots: number): number {
  const s = byStart(records);
  const gaps: number[] = [];
  for (let i = 1; i < s.length; i++) gaps.push(s[i]!.startMs - s[i - 1]!.startMs);
  return median(gaps) * slots;
}

export interface ShareRow {
  userId: string;
  tier: string;
  weight: number;
  dispatches: number;
  /** dispatches / all dispatches counted */
  share: number;
  /** What weighted fair sharing entitles the user to, summed over the dispatches (see fairShares). */
  expected: number;
  expectedShare: number;
  /** dispatches / expected: 1.0 = exactly its weight's share. */
  ratio: number;
}

/**
 * Per-user dispatches against weighted fair sharing. At every dispatch, the users with a chunk waiting (scheduled
 * at or before that moment and not yet started, the dispatched chunk included) are the competitors; each is
 * entitled to weight / (sum of competitors' weights) of that dispatch. Summing entitlements gives each user's
 * expected dispatches for exactly the contention the run had (arrivals, drains and idle users included), so
 * `ratio` near 1 means the user got its weight's share while it had work waiting. Only dispatches with at least
 * two competitors count (alone, a user trivially gets everything). Optionally restricted to dispatches starting
 * in [fromMs, toMs].
 */
export function fairShares(records: ChunkRecord[], fromMs = -Infinity, toMs = Infinity): ShareRow[] {
  const rows = new Map<string, ShareRow>();
  const row = (r: ChunkRecord) => {
    let x = rows.get(r.userId);
    if (!x) {
      x = { userId: r.userId, tier: r.tier, weight: r.priority.fairnessWeight ?? 1, dispatches: 0, share: 0, expected: 0, expectedShare: 0, ratio: 0 };
      rows.set(r.userId, x);
    }
    return x;
  };
  records.forEach(row);
  let counted = 0;
  for (const d of byStart(records)) {
    if (d.startMs < fromMs || d.startMs > toMs) continue;
    const competitors = new Map<string, number>();
    for (const r of records) {
      // Same priority level only: a higher level is not competing for this dispatch's share.
      if (r.priority.priorityKey !== d.priority.priorityKey) continue;
      if (r === d || (r.scheduledMs <= d.startMs && r.startMs >= d.startMs)) competitors.set(r.userId, r.priority.fairnessWeight ?? 1);
    }
    if (competitors.size < 2) continue;
    counted++;
    const total = [...competitors.values()].reduce((a, b) => a + b, 0);
    for (const [u, w] of competitors) rows.get(u)!.expected += w / total;
    rows.get(d.userId)!.dispatches++;
  }
  for (const x of rows.values()) {
    x.share = counted ? x.dispatches / counted : 0;
    x.expectedShare = counted ? x.expected / counted : 0;
    x.ratio = x.expected ? x.dispatches / x.expected : NaN;
  }
  return [...rows.values()].filter((x) => x.expected > 0 || x.dispatches > 0);
}

/** Plain shares of the dispatches that started in [fromMs, toMs], per user. */
export function windowShares(records: ChunkRecord[], fromMs: number, toMs: number): Map<string, { n: number; share: number }> {
  const inWindow = records.filter((r) => r.startMs >= fromMs && r.startMs <= toMs);
  const out = new Map<string, { n: number; share: number }>();
  for (const r of inWindow) out.set(r.userId, { n: (out.get(r.userId)?.n ?? 0) + 1, share: 0 });
  for (const v of out.values()) v.share = v.n / inWindow.length;
  return out;
}

/** A compact "user:chunk" listing of the start order, for failure messages and logs. */
export function startOrder(records: ChunkRecord[], from = 0, count = 40): string {
  return byStart(records)
    .slice(from, from + count)
    .map((r) => `${r.userId}:${r.chunk}`)
    .join(' ');
}
