/**
 * `npm run bench:scheduling -- [--minutes 5] [--batch-ms 100] [--slots 1] [--reps 3] [--no-partitions] [--cluster]`:
 * how Temporal (Server 1.29.1, fairness on) shares one inference worker between fairscribe's tiers and users
 * under our keys (one priority level for user jobs, fairnessKey = user id, fairnessWeight by tier 1.0 / 0.5 /
 * 0.1, priorityKey by priorityClass). Not part of CI; numbers go in docs/scheduling.md.
 *
 * Starts its own Postgres, Redis and Temporal (infra/services.ts startAll, in a temporary directory; the dev
 * server runs ONE task-queue partition, as dev and tests do) and later a second Temporal dev server with FOUR
 * partitions (a production cluster's default). Jobs are the stand-in fan-out workflow of the scheduling test
 * (test/helpers/scheduling-rig.ts): started with the priority exactly as api/admission.ts starts a job, chunks
 * inherit it, 16 chunks in flight per job as in the real workflow, and one worker with `--slots` slots whose
 * chunks sleep `--batch-ms` (the "batch run") instead of running Whisper.
 *
 * Scenarios:
 * 1. mixed: 200 free chunks from 5 users (40 each) submitted at once, then 10 standard jobs (5 users x 2) and
 *    5 premium jobs (5 users), 8 chunks each, arriving one every two batch runs; run to completion.
 * 2. saturation (`--minutes`): 2 premium users keep 2 jobs of 30 chunks each going all the time; a standard
 *    user submits a 6-chunk job every 20 s and 3 free users take turns submitting a 4-chunk job every 10 s.
 * 3. ordering (`--reps` times each, batch run >= 250 ms): premium behind 200 free chunks from 3 and from 20
 *    free users; backfill vs interactive vs live.
 * 4. the mixed and ordering scenarios again on 4 partitions.
 * --cluster: only the mixed and ordering scenarios, on the production-shaped cluster (npm run cluster's pieces,
 * infra/cluster.ts) with 1 and with 4 partitions, for docs/scheduling.md's cluster column.
 */
import { spawn } from 'node:child_process';
import * as fs from 'node:fs';
import * as os from 'node:os';
import * as path from 'node:path';
import { parseArgs } from 'node:util';
import { Connection } from '@temporalio/client';
import { TIERS, type Tier } from '../common/constants';
import { DEFAULT_TIERS } from '../common/tiers';
import { freePort, startAll, temporalBinary, SEARCH_ATTRIBUTES } from '../infra/services';
import { startCluster } from '../infra/cluster';
import {
  SchedulingRig,
  byStart,
  dispatchedWhileWaiting,
  effectiveBatchMs,
  fairShares,
  median,
  percentile,
  schedulingBundle,
  waitingWhenPolled,
  type ChunkRecord,
  type JobSpec,
} from '../test/helpers/scheduling-rig';
import type { WorkflowHandle } from '@temporalio/client';

const sleep = (ms: number) => new Promise<void>((r) => setTimeout(r, ms));
const ORDER_BATCH_MS = 250;

interface Ctx {
  address: string;
  label: string;
  bundle: { code: string };
  slots: number;
  batchMs: number;
  partitions: number;
}

let rigSeq = 0;
async function withRig<T>(ctx: Ctx, name: string, batchMs: number, fn: (r: SchedulingRig) => Promise<T>): Promise<T> {
  const r = await SchedulingRig.start({
    address: ctx.address,
    name: `${name}-${ctx.label}-${rigSeq++}-${process.pid}`,
    slots: ctx.slots,
    batchMs,
    bundle: ctx.bundle,
  });
  try {
    // Pass numbers as on a queue that has served a while (see warmUp): 16 backlogged chunks per partition.
    await r.warmUp(16 * ctx.partitions);
    return await fn(r);
  } finally {
    await r.stop();
  }
}

// --- reporting -------------------------------------------------------------------------------------------------

function table(title: string, head: string[], rows: (string | number)[][]): void {
  const cells = [head, ...rows.map((r) => r.map((c) => (typeof c === 'number' ? fmt(c) : c)))];
  const widths = head.map((_, i) => Math.max(...cells.map((r) => String(r[i] ?? '').length)));
  const line = (r: (string | number)[]) => r.map((c, i) => String(c).padStart(widths[i]!)).join('  ');
  console.log(`\n${title}`);
  console.log(line(head));
  console.log(widths.map((w) => '-'.repeat(w)).join('  '));
  for (const r of cells.slice(1)) console.log(line(r));
}

function fmt(x: number): string {
  if (!Number.isFinite(x)) return '-';
  return Math.abs(x) >= 100 ? x.toFixed(0) : Math.abs(x) >= 10 ? x.toFixed(1) : x.toFixed(2);
}

/** Queue wait (scheduled -> started) by tier, for every chunk and for each job's first chunk. */
function waitTable(title: string, records: ChunkRecord[], batch: number): void {
  const rows: (string | number)[][] = [];
  for (const tier of TIERS) {
    const recs = records.filter((r) => r.tier === tier);
    if (recs.length === 0) continue;
    const waits = recs.map((r) => r.startMs - r.scheduledMs);
    // First chunk of each job whose user had nothing else waiting when it came (a user's second concurrent job
    // queues behind its first: fairness is per user, not per job).
    const firsts = [...new Set(recs.map((r) => r.jobId))]
      .map((job) => byStart(recs.filter((r) => r.jobId === job))[0]!)
      .filter((f) => !records.some((x) => x.userId === f.userId && x.jobId !== f.jobId && x.scheduledMs <= f.scheduledMs && x.startMs > f.scheduledMs));
    const firstWaits = firsts.map((r) => r.startMs - r.scheduledMs);
    const firstOthers = firsts.map((r) => dispatchedWhileWaiting(records, r).length);
    rows.push([
      tier,
      recs.length,
      median(waits),
      percentile(waits, 95),
      percentile(waits, 95) / batch,
      firsts.length,
      median(firstWaits),
      percentile(firstWaits, 95),
      percentile(firstWaits, 95) / batch,
      percentile(firstOthers, 95),
      Math.max(...firstOthers),
    ]);
  }
  table(
    `${title} — queue wait, scheduled to started (ms; "runs" = batch runs of ${fmt(batch)} ms). "1st": the first chunk of ` +
      `each job whose user had nothing else waiting; "others": other users' chunks the worker got while it waited`,
    ['tier', 'chunks', 'p50', 'p95', 'p95 runs', 'new jobs', '1st p50', '1st p95', '1st p95 runs', '1st others p95', 'max'],
    rows,
  );
}

/** Per-user share of worker time overall, and dispatches against weighted-fair entitlement under contention. */
function shareTable(title: string, records: ChunkRecord[]): { ratios: Map<string, number>; freeSpread: number } {
  const busy = new Map<string, number>();
  let total = 0;
  for (const r of records) {
    const t = (r.endMs ?? r.startMs) - r.startMs;
    busy.set(r.userId, (busy.get(r.userId) ?? 0) + t);
    total += t;
  }
  const fair = fairShares(records);
  const rows = fair
    .sort((a, b) => b.weight - a.weight || a.userId.localeCompare(b.userId))
    .map((s) => [s.userId, s.tier, s.weight, (100 * (busy.get(s.userId) ?? 0)) / total, s.dispatches, s.expected, 100 * s.share, 100 * s.expectedShare, s.ratio]);
  table(
    `${title} — per-user share (worker time over the whole run; under contention: dispatches vs weighted-fair entitlement, ratio 1 = its weight's share)`,
    ['user', 'tier', 'weight', 'time %', 'dispatches', 'entitled', 'share %', 'weight share %', 'ratio'],
    rows,
  );
  const ratios = new Map(fair.map((s) => [s.userId, s.ratio]));
  const freeRatios = fair.filter((s) => s.tier === 'free' && s.expected >= 5).map((s) => s.ratio);
  const freeSpread = freeRatios.length > 1 ? Math.max(...freeRatios) / Math.min(...freeRatios) - 1 : 0;
  const off = fair.filter((s) => s.expected >= 5 && Math.abs(s.ratio - 1) > 0.25);
  console.log(
    `goals: free users' shares within ±20% of each other: ${freeRatios.length > 1 ? `${(100 * freeSpread).toFixed(1)}% apart -> ${freeSpread <= 0.2 ? 'met' : 'NOT met'}` : 'n/a'}; ` +
      `every user within ±25% of its weight's share (users entitled to >= 5 dispatches): ${off.length === 0 ? 'met' : `NOT met for ${off.map((s) => `${s.userId} (${s.ratio.toFixed(2)})`).join(', ')}`}`,
  );
  return { ratios, freeSpread };
}

// --- scenarios -------------------------------------------------------------------------------------------------

async function mixed(ctx: Ctx): Promise<void> {
  await withRig(ctx, 'mixed', ctx.batchMs, async (r) => {
    const t0 = Date.now();
    const handles: WorkflowHandle[] = [];
    for (let u = 0; u < 5; u++) handles.push(await r.submit({ userId: `free-${u}`, tier: 'free', chunks: 40, maxInFlight: 16 }));
    const later: JobSpec[] = [];
    for (let j = 0; j < 10; j++) {
      later.push({ userId: `standard-${j % 5}`, tier: 'standard', chunks: 8, maxInFlight: 16 });
      if (j % 2 === 1) later.push({ userId: `premium-${(j - 1) / 2}`, tier: 'premium', chunks: 8, maxInFlight: 16 });
    }
    for (const job of later) {
      await sleep(2 * ctx.batchMs);
      handles.push(await r.submit(job));
    }
    await Promise.all(handles.map((h) => h.result()));
    const batch = effectiveBatchMs(r.records, ctx.slots);
    console.log(
      `\n[${ctx.label}] mixed: ${r.records.length} chunks in ${((Date.now() - t0) / 1000).toFixed(1)} s on ${ctx.slots} slot(s); ` +
        `batch run ${ctx.batchMs} ms asleep, ${fmt(batch)} ms effective (start to start)`,
    );
    waitTable(`[${ctx.label}] mixed`, r.records, batch);
    shareTable(`[${ctx.label}] mixed`, r.records);
  });
}

async function saturation(ctx: Ctx, minutes: number): Promise<void> {
  await withRig(ctx, 'saturation', ctx.batchMs, async (r) => {
    const t0 = Date.now();
    const until = t0 + minutes * 60_000;
    const freeJobs: { handle: WorkflowHandle; submitted: number; done?: number }[] = [];
    // Premium load runs until the last free and standard job has finished, so every one of them competed with it.
    let drained = false;
    let signalDrained!: () => void;
    const drainedP = new Promise<void>((resolve) => (signalDrained = resolve));
    const premiumLoop = async (userId: string) => {
      while (!drained) {
        const h = await r.submit({ userId, tier: 'premium', chunks: 30, maxInFlight: 16 });
        await Promise.race([h.result(), drainedP]);
      }
    };
    const every = async (ms: number, offset: number, fn: (i: number) => Promise<void>) => {
      await sleep(offset);
      for (let i = 0; Date.now() < until; i++) {
        const next = Date.now() + ms;
        await fn(i);
        await sleep(Math.max(0, next - Date.now()));
      }
    };
    const pending: Promise<unknown>[] = [];
    const premium = ['sat-premium-1', 'sat-premium-1', 'sat-premium-2', 'sat-premium-2'].map(premiumLoop);
    await Promise.all([
      every(20_000, 3_000, async () => {
        const h = await r.submit({ userId: 'sat-standard', tier: 'standard', chunks: 6, maxInFlight: 16 });
        pending.push(h.result());
      }),
      every(10_000, 5_000, async (i) => {
        const h = await r.submit({ userId: `sat-free-${i % 3}`, tier: 'free', chunks: 4, maxInFlight: 16 });
        const job = { handle: h, submitted: Date.now() } as (typeof freeJobs)[number];
        freeJobs.push(job);
        pending.push(h.result().then(() => (job.done = Date.now())));
      }),
    ]);
    await Promise.all(pending);
    const end = Date.now();
    drained = true;
    signalDrained();
    await Promise.all(premium); // the running premium jobs are terminated by the rig
    const batch = effectiveBatchMs(r.records, ctx.slots);
    console.log(
      `\n[${ctx.label}] saturation: premium load for ${((end - t0) / 60_000).toFixed(1)} min (submissions for ${minutes}), ` +
        `${r.records.filter((x) => x.startMs <= end).length} chunks, batch run ${fmt(batch)} ms effective`,
    );
    const done = freeJobs.filter((j) => j.done).map((j) => j.done! - j.submitted);
    console.log(
      `free jobs (4 chunks each): ${done.length}/${freeJobs.length} finished; time to finish p50 ${fmt(median(done))} ms, ` +
        `max ${fmt(Math.max(...done))} ms = ${fmt(Math.max(...done) / batch)} batch runs`,
    );
    const saturated = r.records.filter((x) => x.startMs <= end);
    waitTable(`[${ctx.label}] saturation`, saturated, batch);
    shareTable(`[${ctx.label}] saturation`, saturated);
  });
}

interface OrderResult {
  label: string;
  values: number[];
}

/** Premium (3 chunks) behind 200 free chunks from `users` free users: other users' dispatches while it waited. */
async function floodOrder(ctx: Ctx, users: number): Promise<{ others: number; distinct: number; maxPerUser: number }> {
  return withRig(ctx, `flood${users}`, ORDER_BATCH_MS, async (r) => {
    const flood: WorkflowHandle[] = [];
    for (let u = 0; u < users; u++) {
      const chunks = Math.floor(200 / users) + (u < 200 % users ? 1 : 0);
      flood.push(await r.submit({ userId: `f${u}`, tier: 'free', chunks }));
    }
    await r.waitScheduled(flood, 200, 60_000);
    const n = r.records.length;
    await r.waitUntil(() => r.records.length > n, 30_000, 'next dispatch');
    await r.submit({ userId: 'p', tier: 'premium', chunks: 3 });
    await r.waitUntil(() => r.records.filter((x) => x.userId === 'p').length >= 1, 120_000, 'premium');
    const first = byStart(r.records.filter((x) => x.userId === 'p'))[0]!;
    const before = dispatchedWhileWaiting(r.records, first);
    const per = new Map<string, number>();
    for (const d of before) per.set(d.userId, (per.get(d.userId) ?? 0) + 1);
    return { others: before.length, distinct: per.size, maxPerUser: Math.max(0, ...per.values()) };
  });
}

/** Backfill (premium + free users) queued, then interactive (free + standard), then live: queue jumps. */
async function classOrder(ctx: Ctx): Promise<{ backfillJumps: number; interactiveOverLive: number; liveOthers: number }> {
  return withRig(ctx, 'classes', ORDER_BATCH_MS, async (r) => {
    const next = async () => {
      const n = r.records.length;
      await r.waitUntil(() => r.records.length > n, 30_000, 'next dispatch');
    };
    const bf = [
      await r.submit({ userId: 'bf-p', tier: 'premium', priorityClass: 'backfill', chunks: 20 }),
      await r.submit({ userId: 'bf-f', tier: 'free', priorityClass: 'backfill', chunks: 20 }),
    ];
    await r.waitScheduled(bf, 40);
    await next();
    await r.submit({ userId: 'i-f', tier: 'free', chunks: 5 });
    await r.submit({ userId: 'i-s', tier: 'standard', chunks: 5 });
    await r.waitUntil(() => r.records.some((x) => x.priorityClass === 'interactive'), 30_000, 'interactive');
    await next();
    await r.submit({ userId: 'l', tier: 'free', priorityClass: 'live', chunks: 3 });
    await r.waitUntil(() => r.records.filter((x) => x.priorityClass !== 'backfill').length === 13, 120_000, 'all interactive');
    await next();
    const interactive = r.records.filter((x) => x.priorityClass === 'interactive');
    const live = r.records.filter((x) => x.priorityClass === 'live');
    return {
      backfillJumps: r.records.filter((x) => x.priorityClass === 'backfill' && waitingWhenPolled(r.records, x, [...interactive, ...live]).length > 0).length,
      interactiveOverLive: interactive.filter((x) => waitingWhenPolled(r.records, x, live).length > 0).length,
      liveOthers: dispatchedWhileWaiting(r.records, byStart(live)[0]!).length,
    };
  });
}

async function ordering(ctx: Ctx, reps: number): Promise<void> {
  const results: OrderResult[] = [];
  const f3: number[] = [];
  const f20: number[] = [];
  const f20max: number[] = [];
  const bf: number[] = [];
  const il: number[] = [];
  const lo: number[] = [];
  for (let i = 0; i < reps; i++) {
    f3.push((await floodOrder(ctx, 3)).others);
    const x = await floodOrder(ctx, 20);
    f20.push(x.others);
    f20max.push(x.maxPerUser);
    const c = await classOrder(ctx);
    bf.push(c.backfillJumps);
    il.push(c.interactiveOverLive);
    lo.push(c.liveOthers);
  }
  results.push(
    { label: 'premium 1st chunk behind 200 free chunks / 3 users: other dispatches while it waited', values: f3 },
    { label: 'premium 1st chunk behind 200 free chunks / 20 users: other dispatches while it waited', values: f20 },
    { label: '  ... the most dispatches any one free user got meanwhile', values: f20max },
    { label: 'backfill chunks started while interactive/live work waited (of 40 queued)', values: bf },
    { label: 'interactive chunks started while live work waited', values: il },
    { label: 'live 1st chunk: other dispatches while it waited', values: lo },
  );
  table(
    `[${ctx.label}] ordering, ${reps} run(s) each, one slot, batch run ${ORDER_BATCH_MS} ms`,
    ['measure', 'per run', 'max'],
    results.map((x) => [x.label, x.values.join(', '), Math.max(...x.values)]),
  );
}

// --- a Temporal dev server with 4 partitions ----------------------------------------------------------------------

/**
 * infra/services.ts startTemporal pins one partition (its dynamic config is fixed), so the 4-partition server is
 * started here from the same binary: in memory, headless, same search attributes, fairness on.
 */
async function startTemporal4(logDir: string): Promise<{ address: string; stop(): Promise<void> }> {
  const port = await freePort();
  const args = [
    'server', 'start-dev', '--ip', '127.0.0.1', '--port', String(port), '--headless', '--log-level', 'warn',
    ...Object.entries(SEARCH_ATTRIBUTES).flatMap(([n, t]) => ['--search-attribute', `${n}=${t}`]),
    '--dynamic-config-value', 'matching.enableFairness=true',
    '--dynamic-config-value', 'matching.numTaskqueueReadPartitions=4',
    '--dynamic-config-value', 'matching.numTaskqueueWritePartitions=4',
  ];
  const log = fs.openSync(path.join(logDir, 'temporal-4-partitions.log'), 'a');
  const child = spawn(temporalBinary(), args, { stdio: ['ignore', log, log] });
  fs.closeSync(log);
  const exited = new Promise<void>((resolve) => child.once('exit', () => resolve()));
  const kill = () => child.kill('SIGKILL');
  process.once('exit', kill);
  const address = `127.0.0.1:${port}`;
  const deadline = Date.now() + 60_000;
  for (;;) {
    try {
      const c = await Connection.connect({ address, connectTimeout: 1_000 });
      try {
        await c.workflowService.getSystemInfo({});
        break;
      } finally {
        await c.close();
      }
    } catch (err) {
      if (child.exitCode !== null || Date.now() > deadline) throw new Error(`4-partition Temporal did not start: ${err}`);
      await sleep(200);
    }
  }
  return {
    address,
    async stop() {
      child.kill('SIGTERM');
      const t = setTimeout(kill, 15_000);
      await exited;
      clearTimeout(t);
      process.removeListener('exit', kill);
    },
  };
}

// --- main --------------------------------------------------------------------------------------------------------

async function main() {
  const { values } = parseArgs({
    options: {
      minutes: { type: 'string', default: '5' },
      'batch-ms': { type: 'string', default: '100' },
      slots: { type: 'string', default: '1' },
      reps: { type: 'string', default: '3' },
      'no-partitions': { type: 'boolean', default: false },
      cluster: { type: 'boolean', default: false },
    },
  });
  const minutes = Number(values.minutes);
  const batchMs = Number(values['batch-ms']);
  const slots = Number(values.slots);
  const reps = Number(values.reps);
  const t0 = Date.now();
  const root = fs.mkdtempSync(path.join(os.tmpdir(), 'fairscribe-bench-scheduling-'));
  if (values.cluster) {
    // The production-shaped cluster (infra/cluster.ts): Temporal Server 1.29.1 itself on PostgreSQL, the dynamic
    // config of temporal-values.yaml; 1 partition (every queue pinned, as the dev server) and Temporal's default 4.
    const bundle = await schedulingBundle();
    for (const partitions of [1, 4] as const) {
      const c = await startCluster({ root: path.join(root, `cluster-${partitions}`), ports: 'free', fast: true, partitions, pinAllQueues: true });
      console.log(`\nbench:scheduling --cluster — Temporal server ${c.temporalAddress} on PostgreSQL, ${partitions} partition(s), load ${os.loadavg().map((x) => x.toFixed(1)).join('/')}`);
      try {
        const ctx: Ctx = { address: c.temporalAddress, label: `cluster, ${partitions} partition${partitions > 1 ? 's' : ''}`, bundle, slots, batchMs, partitions };
        await mixed(ctx);
        await ordering(ctx, reps);
      } finally {
        await c.stop();
      }
    }
    fs.rmSync(root, { recursive: true, force: true });
    console.log(`\ndone in ${((Date.now() - t0) / 1000).toFixed(0)} s`);
    return;
  }
  const [services, bundle] = await Promise.all([startAll({ root, fresh: true, fast: true }), schedulingBundle()]);
  console.log(
    `bench:scheduling — Temporal ${services.temporal.address} (1 partition, fairness on), worker slots ${slots}, ` +
      `batch run ${batchMs} ms, saturation ${minutes} min, ${os.cpus().length} CPUs, load ${os.loadavg().map((x) => x.toFixed(1)).join('/')}`,
  );
  console.log(`fairness weights: ${TIERS.map((t: Tier) => `${t} ${DEFAULT_TIERS[t].fairnessWeight}`).join(', ')} (common/tiers.ts)`);
  try {
    const one: Ctx = { address: services.temporal.address, label: '1 partition', bundle, slots, batchMs, partitions: 1 };
    await mixed(one);
    await saturation(one, minutes);
    await ordering(one, reps);
  } finally {
    await services.stop();
  }
  if (!values['no-partitions']) {
    const t4 = await startTemporal4(path.join(root, 'logs'));
    try {
      const four: Ctx = { address: t4.address, label: '4 partitions', bundle, slots, batchMs, partitions: 4 };
      await mixed(four);
      await ordering(four, reps);
    } finally {
      await t4.stop();
    }
  }
  fs.rmSync(root, { recursive: true, force: true });
  console.log(`\ndone in ${((Date.now() - t0) / 1000).toFixed(0)} s`);
}

main().catch((err) => {
  console.error(err);
  process.exit(1);
});
