/**
 * Capacity model (docs/capacity.md): from arrival rates per tier, an audio-length distribution, engine
 * throughput per worker type and the cost table, a discrete-event simulation of the inference task
 * queues finds how many workers each queue needs to meet per-tier queue-wait targets, and derives the
 * Temporal sizing (task-queue partitions, history shards), queue wait per tier and cost per audio hour.
 *
 *   npx tsx bench/capacity.ts                 # the scenarios in docs/capacity.md
 *   npx tsx bench/capacity.ts --json          # the same as JSON
 *   npx tsx bench/capacity.ts --scale 2       # every arrival rate × 2
 *   npx tsx bench/capacity.ts --only growth   # one scenario
 *
 * Every input is named below with where it comes from. Deterministic (seeded PRNG).
 */
import { BACKEND_TABLE } from '../common/backends';
import type { Backend, Tier } from '../common/constants';
import { DEFAULT_TIERS } from '../common/tiers';
import { TIER_PRICE_PER_MINUTE } from '../common/prices';
import { mulberry32 } from '../test/helpers/prng';

// ── inputs ──────────────────────────────────────────────────────────────────────────────────────

/**
 * Audio seconds a worker transcribes per wall second (RTFx), by worker type and model.
 * CPU: `npm run bench:engine` on this machine, 2 onnxruntime threads (one CPU worker's INFERENCE_THREADS):
 * jfk×3 (33 s) in 1.17 s with whisper-tiny.en, 1.92 s with whisper-base → 28.2 and 17.2.
 * GPU: not measured (no GPU on the CI machine): config/backends.json `gpuRealTimeFactor` 0.02 → RTFx 50 at
 * `speedMultiplier` 1, a planning figure; replace it with a measured number when a GPU is at hand.
 */
const CPU_RTFX: Record<string, number> = { 'whisper-tiny.en': 33 / 1.17, 'whisper-base': 33 / 1.92 };
function rtfx(backend: Backend, model: string): number {
  if (backend === 'cpu') return CPU_RTFX[model];
  return BACKEND_TABLE.backends[backend].speedMultiplier / BACKEND_TABLE.gpuRealTimeFactor;
}

/** Model per tier: common/routing.ts (free → economy = tiny.en; others → balanced = base). */
const MODEL: Record<Tier, string> = { free: 'whisper-tiny.en', standard: 'whisper-base', premium: 'whisper-base' };
/** Backend per tier: the first of config/backends.json `tierBackends` (what chooseBackend picks when all have workers). */
const BACKEND: Record<Tier, Backend> = {
  free: BACKEND_TABLE.tierBackends.free[0],
  standard: BACKEND_TABLE.tierBackends.standard[0],
  premium: BACKEND_TABLE.tierBackends.premium[0],
};

/**
 * Audio length per job: log-normal (median seconds, sigma), capped at the tier's maxAudioSeconds (common/tiers.ts).
 * Assumption: uploaded recordings (voice notes, calls, meetings, lectures) are heavy-tailed; premium
 * customers send longer meetings. Not measured: no production traffic exists.
 */
const AUDIO: Record<Tier, { medianS: number; sigma: number }> = {
  free: { medianS: 120, sigma: 0.9 },
  standard: { medianS: 480, sigma: 1.0 },
  premium: { medianS: 900, sigma: 1.1 },
};
/** Share of audio sent to inference after silent chunks are skipped (assumption; activities/audio.ts skips silence). */
const SPEECH_FRACTION = 0.85;
/** Chunks are ≤ 30 s (audio/chunk-plan.ts); a job keeps ≤ 16 in flight (workflows/transcription.ts). */
const CHUNK_S = 30;
const MAX_IN_FLIGHT = 16;
/**
 * p95 time-to-first-result targets per tier (seconds): a product choice, stated here. Sized on TTFR, not on
 * every chunk's wait: a long job's own 16 chunks queue behind each other by design (they are one job's work).
 */
const TTFR_TARGET_P95: Record<Tier, number> = { free: 60, standard: 15, premium: 5 };
/** Keep a fleet at or below this utilisation (headroom for bursts, spot losses, deploys). */
const MAX_UTILISATION = 0.8;
/**
 * Temporal sizing rules (assumptions; Temporal's docs say numHistoryShards is fixed for the cluster's life and
 * suggest 512 for small/medium and thousands for large clusters): ≤ 1,000 open workflows and ≤ 100 history
 * events per second per shard; a task-queue partition serves ~1,000 dispatches/s (the matching service's
 * design notes, quoted in docs/scheduling.md), kept at half that.
 */
const OPEN_WORKFLOWS_PER_SHARD = 1_000;
const EVENTS_PER_SHARD_PER_S = 100;
const DISPATCH_PER_PARTITION_PER_S = 500;
/** History events per job: start, prepare, settle, finalize, delete (~5 activities × 3 events + workflow tasks ≈ 25) + 6 per chunk. */
const eventsPerJob = (chunks: number) => 25 + 6 * chunks;

export interface Scenario {
  name: string;
  /** jobs per hour by tier (Poisson arrivals) */
  perHour: Record<Tier, number>;
  /** a burst of backfill jobs admitted at t = 0 (priority 5, behind interactive work on the same queue) */
  backfillBurst?: { tier: Tier; jobs: number };
  /** simulated seconds of steady arrivals */
  horizonS: number;
}

export const SCENARIOS: Scenario[] = [
  { name: 'launch', perHour: { free: 600, standard: 120, premium: 30 }, horizonS: 4 * 3600 },
  { name: 'growth', perHour: { free: 6_000, standard: 1_200, premium: 300 }, horizonS: 2 * 3600 },
  { name: 'scale', perHour: { free: 40_000, standard: 12_000, premium: 3_000 }, horizonS: 3600 },
  // 10,000 jobs admitted at once (a customer's archive at priority `backfill`) on top of the growth load.
  {
    name: 'backfill-10k',
    perHour: { free: 6_000, standard: 1_200, premium: 300 },
    backfillBurst: { tier: 'standard', jobs: 10_000 },
    // Steady arrivals continue until the archive has drained (the drain time is only right if they do).
    horizonS: 20 * 3600,
  },
];

// ── simulation ──────────────────────────────────────────────────────────────────────────────────

interface Job {
  tier: Tier;
  arrive: number;
  chunks: number[]; // seconds of speech per chunk
  backfill: boolean;
  firstResult?: number;
  done?: number;
  pending: number;
  next: number;
}
interface ChunkTask {
  job: Job;
  seconds: number;
  ready: number;
}

function sampleAudioSeconds(tier: Tier, rnd: () => number): number {
  // Box-Muller normal → log-normal around the median.
  const z = Math.sqrt(-2 * Math.log(1 - rnd())) * Math.cos(2 * Math.PI * rnd());
  const s = AUDIO[tier].medianS * Math.exp(AUDIO[tier].sigma * z);
  return Math.min(Math.max(s, 5), DEFAULT_TIERS[tier].maxAudioSeconds);
}

function makeJob(tier: Tier, arrive: number, rnd: () => number, backfill = false): Job {
  const speech = sampleAudioSeconds(tier, rnd) * SPEECH_FRACTION;
  const n = Math.max(1, Math.ceil(speech / CHUNK_S));
  const chunks = Array.from({ length: n }, (_, i) => (i < n - 1 ? CHUNK_S : speech - CHUNK_S * (n - 1)));
  return { tier, arrive, chunks, backfill, pending: 0, next: 0 };
}

function quantile(xs: number[], q: number): number {
  if (xs.length === 0) return 0;
  const s = Float64Array.from(xs).sort();
  return s[Math.min(s.length - 1, Math.floor(q * s.length))];
}

/** Binary min-heap of [time, seq, payload] events. */
class Events<T> {
  private h: [number, number, T][] = [];
  private seq = 0;
  get size() {
    return this.h.length;
  }
  push(t: number, v: T) {
    const h = this.h;
    h.push([t, this.seq++, v]);
    for (let i = h.length - 1; i > 0; ) {
      const p = (i - 1) >> 1;
      if (h[p][0] < h[i][0] || (h[p][0] === h[i][0] && h[p][1] < h[i][1])) break;
      [h[p], h[i]] = [h[i], h[p]];
      i = p;
    }
  }
  pop(): [number, T] {
    const h = this.h;
    const top = h[0];
    const last = h.pop()!;
    if (h.length) {
      h[0] = last;
      for (let i = 0; ; ) {
        const l = 2 * i + 1;
        const r = l + 1;
        let m = i;
        const less = (a: number, b: number) => h[a][0] < h[b][0] || (h[a][0] === h[b][0] && h[a][1] < h[b][1]);
        if (l < h.length && less(l, m)) m = l;
        if (r < h.length && less(r, m)) m = r;
        if (m === i) break;
        [h[m], h[i]] = [h[i], h[m]];
        i = m;
      }
    }
    return [top[0], top[2]];
  }
}

export interface QueueResult {
  backend: Backend;
  workers: number;
  utilisation: number;
  chunksPerS: number;
  waits: Partial<Record<Tier, { p50: number; p95: number; mean: number }>>;
  ttfrP95: Partial<Record<Tier, number>>;
  backfillDrainS?: number;
  meanJobsInSystem: number;
  peakJobsInSystem: number;
}

/**
 * One inference task queue with `workers` servers, each transcribing one chunk at a time at its RTFx
 * (dynamic batching folded into the measured RTFx). Interactive chunks (priority key 3) are dispatched
 * before backfill ones (5); within a level in arrival order (fairness weights reorder users, not the
 * mean wait of a level). A job's first chunk runs alone (language detection), then ≤ 16 in flight.
 */
export function simulateQueue(backend: Backend, jobs: Job[], workers: number): QueueResult {
  const events = new Events<{ kind: 'arrive'; job: Job } | { kind: 'done'; task: ChunkTask }>();
  for (const j of jobs) events.push(j.arrive, { kind: 'arrive', job: j });
  const queues: ChunkTask[][] = [[], []]; // [interactive, backfill]
  const heads = [0, 0];
  let idle = workers;
  let busy = 0;
  let lastT = 0;
  let inSystem = 0;
  let area = 0;
  let peak = 0;
  const waits: Record<string, number[]> = {};
  let horizon = 0;
  let tasks = 0;
  const release = (job: Job, now: number) => {
    // The first chunk alone; after it, keep up to MAX_IN_FLIGHT in flight.
    const limit = job.next === 0 ? 1 : job.firstResult === undefined ? 0 : MAX_IN_FLIGHT;
    while (job.next < job.chunks.length && job.pending < limit) {
      queues[job.backfill ? 1 : 0].push({ job, seconds: job.chunks[job.next++], ready: now });
      job.pending++;
    }
  };
  const dispatch = (now: number) => {
    while (idle > 0) {
      const level = heads[0] < queues[0].length ? 0 : heads[1] < queues[1].length ? 1 : -1;
      if (level < 0) return;
      const task = queues[level][heads[level]++];
      idle--;
      const key = task.job.backfill ? 'backfill' : task.job.tier;
      (waits[key] ??= []).push(now - task.ready);
      const service = task.seconds / rtfx(backend, MODEL[task.job.tier]);
      busy += service;
      tasks++;
      events.push(now + service, { kind: 'done', task });
    }
  };
  while (events.size) {
    const [t, e] = events.pop();
    area += inSystem * (t - lastT);
    lastT = t;
    if (e.kind === 'arrive') {
      inSystem++;
      peak = Math.max(peak, inSystem);
      release(e.job, t);
    } else {
      idle++;
      const job = e.task.job;
      job.pending--;
      job.firstResult ??= t;
      if (job.next === job.chunks.length && job.pending === 0) {
        job.done = t;
        inSystem--;
      } else release(job, t);
    }
    dispatch(t);
    horizon = t;
  }
  const byTier: QueueResult['waits'] = {};
  const ttfr: QueueResult['ttfrP95'] = {};
  for (const tier of ['free', 'standard', 'premium'] as Tier[]) {
    const w = waits[tier];
    if (!w?.length) continue;
    byTier[tier] = { p50: quantile(w, 0.5), p95: quantile(w, 0.95), mean: w.reduce((a, b) => a + b, 0) / w.length };
    ttfr[tier] = quantile(jobs.filter((j) => j.tier === tier && !j.backfill).map((j) => j.firstResult! - j.arrive), 0.95);
  }
  const backfill = jobs.filter((j) => j.backfill);
  return {
    backend,
    workers,
    utilisation: horizon > 0 ? busy / (workers * horizon) : 0,
    chunksPerS: horizon > 0 ? tasks / horizon : 0,
    waits: byTier,
    ttfrP95: ttfr,
    ...(backfill.length ? { backfillDrainS: Math.max(...backfill.map((j) => j.done!)) } : {}),
    meanJobsInSystem: horizon > 0 ? area / horizon : 0,
    peakJobsInSystem: peak,
  };
}

function generate(s: Scenario, seed: number): Job[] {
  const rnd = mulberry32(seed);
  const jobs: Job[] = [];
  for (const tier of ['free', 'standard', 'premium'] as Tier[]) {
    const rate = s.perHour[tier] / 3600;
    for (let t = -Math.log(1 - rnd()) / rate; t < s.horizonS; t += -Math.log(1 - rnd()) / rate) jobs.push(makeJob(tier, t, rnd));
  }
  if (s.backfillBurst) for (let i = 0; i < s.backfillBurst.jobs; i++) jobs.push(makeJob(s.backfillBurst.tier, 0, rnd, true));
  return jobs.sort((a, b) => a.arrive - b.arrive);
}

const clone = (jobs: Job[]) => jobs.map((j) => ({ ...j, pending: 0, next: 0, firstResult: undefined, done: undefined }));

export interface ScenarioResult {
  scenario: string;
  queues: QueueResult[];
  audioHoursPerHour: number;
  costPerAudioHour: Record<Backend, number>;
  blendedCostPerAudioHour: number;
  revenuePerAudioHour: number;
  temporal: { dispatchesPerS: Record<string, number>; partitions: Record<string, number>; openWorkflowsPeak: number; eventsPerS: number; historyShards: number };
}

/** Sizes each queue: the fewest workers (searching up from the load) that keep utilisation ≤ 80 % and every tier's p95 TTFR on target. */
export function runScenario(s: Scenario, seed = 1): ScenarioResult {
  const jobs = generate(s, seed);
  const backends = [...new Set(Object.values(BACKEND))];
  const queues: QueueResult[] = [];
  for (const backend of backends) {
    const mine = jobs.filter((j) => BACKEND[j.tier] === backend);
    if (mine.length === 0) continue;
    const steady = mine.filter((j) => !j.backfill);
    const load = steady.reduce((a, j) => a + j.chunks.reduce((x, y) => x + y, 0) / rtfx(backend, MODEL[j.tier]), 0) / s.horizonS;
    let workers = Math.max(1, Math.ceil(load / MAX_UTILISATION));
    let r = simulateQueue(backend, clone(mine), workers);
    const meets = (q: QueueResult) =>
      (Object.entries(q.ttfrP95) as [Tier, number][]).every(([t, v]) => v <= TTFR_TARGET_P95[t]) &&
      (mine.some((j) => j.backfill) || q.utilisation <= MAX_UTILISATION);
    for (let i = 0; i < 40 && !meets(r); i++) {
      workers = Math.ceil(workers * 1.1 + 1);
      r = simulateQueue(backend, clone(mine), workers);
    }
    queues.push(r);
  }
  const audioS = jobs.filter((j) => !j.backfill).reduce((a, j) => a + j.chunks.reduce((x, y) => x + y, 0) / SPEECH_FRACTION, 0);
  const costPerAudioHour = Object.fromEntries(
    Object.entries(BACKEND_TABLE.backends).map(([b, spec]) => [b, spec.costPerMinute * 60 * (1 + spec.interruptionRisk)]),
  ) as Record<Backend, number>;
  const steadyJobs = jobs.filter((j) => !j.backfill);
  const billedS = (j: Job) => j.chunks.reduce((x, y) => x + y, 0);
  const total = steadyJobs.reduce((a, j) => a + billedS(j), 0);
  const blended = steadyJobs.reduce((a, j) => a + billedS(j) * costPerAudioHour[BACKEND[j.tier]], 0) / Math.max(1, total);
  const revenue = steadyJobs.reduce((a, j) => a + (billedS(j) / 60) * TIER_PRICE_PER_MINUTE[j.tier], 0) / Math.max(1, total / 3600);
  const dispatchesPerS = Object.fromEntries(queues.map((q) => [`transcribe-${q.backend}`, q.chunksPerS]));
  // Orchestration queue: ~5 activities and ~(2 + chunks/4) workflow tasks per job.
  const jobsPerS = steadyJobs.length / s.horizonS;
  const meanChunks = steadyJobs.reduce((a, j) => a + j.chunks.length, 0) / Math.max(1, steadyJobs.length);
  dispatchesPerS['fairscribe-orchestration'] = jobsPerS * (5 + 2 + meanChunks / 4);
  const partitions = Object.fromEntries(Object.entries(dispatchesPerS).map(([q, r]) => [q, Math.max(1, Math.ceil(r / DISPATCH_PER_PARTITION_PER_S))]));
  const openPeak = queues.reduce((a, q) => a + q.peakJobsInSystem, 0);
  const eventsPerS = jobsPerS * eventsPerJob(meanChunks);
  const need = Math.max(openPeak / OPEN_WORKFLOWS_PER_SHARD, eventsPerS / EVENTS_PER_SHARD_PER_S, 512);
  const historyShards = 2 ** Math.ceil(Math.log2(need));
  return {
    scenario: s.name,
    queues,
    audioHoursPerHour: audioS / s.horizonS,
    costPerAudioHour,
    blendedCostPerAudioHour: blended,
    revenuePerAudioHour: revenue,
    temporal: { dispatchesPerS, partitions, openWorkflowsPeak: openPeak, eventsPerS, historyShards },
  };
}

const f = (x: number, d = 1) => (Number.isFinite(x) ? x.toFixed(d) : '–');

function printMarkdown(results: ScenarioResult[], scenarios: Scenario[]): void {
  for (const r of results) {
    const s = scenarios.find((x) => x.name === r.scenario)!;
    const burst = s.backfillBurst ? ` + ${s.backfillBurst.jobs.toLocaleString('en')} ${s.backfillBurst.tier} backfill jobs at t=0` : '';
    console.log(`\n### ${r.scenario}: ${s.perHour.free}/${s.perHour.standard}/${s.perHour.premium} jobs per hour (free/standard/premium)${burst}`);
    console.log(`audio: ${f(r.audioHoursPerHour, 1)} audio hours per hour (steady arrivals)\n`);
    console.log('| queue | workers | utilisation | chunks/s | p95 chunk wait by tier (s) | p95 TTFR by tier (s) | jobs in system mean / peak |' + (s.backfillBurst ? ' backfill drained after |' : ''));
    console.log('|---|---|---|---|---|---|---|' + (s.backfillBurst ? '---|' : ''));
    for (const q of r.queues) {
      const w = Object.entries(q.waits).map(([t, v]) => `${t} ${f(v!.p95, 2)}`).join(', ');
      const tt = Object.entries(q.ttfrP95).map(([t, v]) => `${t} ${f(v!, 1)}`).join(', ');
      const drain = q.backfillDrainS !== undefined ? ` ${f(q.backfillDrainS / 3600, 2)} h |` : s.backfillBurst ? ' – |' : '';
      console.log(`| transcribe-${q.backend} | ${q.workers} | ${f(q.utilisation * 100, 0)} % | ${f(q.chunksPerS, 2)} | ${w} | ${tt} | ${f(q.meanJobsInSystem, 0)} / ${q.peakJobsInSystem} |${drain}`);
    }
    const t = r.temporal;
    console.log(
      `\nTemporal: dispatches/s ${Object.entries(t.dispatchesPerS).map(([q, v]) => `${q} ${f(v, 2)}`).join(', ')} → partitions ${Object.values(t.partitions).every((p) => p === 1) ? '1 on every queue' : JSON.stringify(t.partitions)}; ` +
        `open workflows peak ${t.openWorkflowsPeak}, history events ${f(t.eventsPerS, 0)}/s → numHistoryShards ${t.historyShards}.`,
    );
    console.log(`cost per audio hour (cost table): blended ${f(r.blendedCostPerAudioHour, 2)} USD; revenue per audio hour (price table) ${f(r.revenuePerAudioHour, 2)} USD.`);
  }
}

if (require.main === module) {
  const args = process.argv.slice(2);
  const scale = args.includes('--scale') ? Number(args[args.indexOf('--scale') + 1]) : 1;
  const only = args.includes('--only') ? args[args.indexOf('--only') + 1] : null;
  const scenarios = SCENARIOS.filter((s) => !only || s.name === only).map((s) => ({
    ...s,
    perHour: Object.fromEntries(Object.entries(s.perHour).map(([t, v]) => [t, v * scale])) as Record<Tier, number>,
  }));
  const t0 = Date.now();
  const results = scenarios.map((s) => runScenario(s));
  if (args.includes('--json')) console.log(JSON.stringify(results, null, 2));
  else {
    console.log(`capacity model: ${scenarios.length} scenarios, simulated in ${((Date.now() - t0) / 1000).toFixed(1)} s`);
    console.log(`worker RTFx: cpu tiny.en ${f(rtfx('cpu', 'whisper-tiny.en'))}, cpu base ${f(rtfx('cpu', 'whisper-base'))}, GPU ${f(rtfx('gpu-reserved', 'whisper-base'))} (assumed)`);
    console.log(`costs per audio hour: ${Object.entries(results[0].costPerAudioHour).map(([b, c]) => `${b} ${f(c, 2)}`).join(', ')} USD`);
    printMarkdown(results, scenarios);
  }
}
