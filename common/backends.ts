/**
 * Cost-optimised backend choice (README "Scheduling and backends"): score each backend the tier may use by expected cost and
 * time for the job, as the user asked (`optimizeFor`), using live queue stats so that work goes only
 * where workers poll. Pure: the tables come from config/backends.json, the stats from the caller.
 */
import table from '../config/backends.json';
import type { Backend, Tier } from './constants';

export interface BackendSpec {
  costPerMinute: number;
  startupSeconds: number;
  speedMultiplier: number;
  interruptionRisk: number;
  minBillableSeconds: number;
}

export interface BackendTable {
  backends: Record<Backend, BackendSpec>;
  tierBackends: Record<Tier, Backend[]>;
  /** CPU is skipped for files longer than this while a GPU queue has workers */
  longFileSeconds: number;
  /** processing seconds per audio second on a reserved GPU (speedMultiplier 1) */
  gpuRealTimeFactor: number;
}

export const BACKEND_TABLE: BackendTable = table as never;

export type OptimizeFor = 'cost' | 'speed' | 'balanced';

/** What DescribeTaskQueue says of one queue (missing = 0). */
export interface QueueStats {
  pollers: number;
  backlog: number;
}

export interface BackendChoice {
  backend: Backend;
  /** expected cost per audio minute on that backend, USD */
  expectedCostPerMinute: number;
  /** no allowed queue has workers: the job waits on the tier's default queue */
  waitingForCapacity: boolean;
  /** every allowed backend considered, with its score (higher is better) or why it was skipped */
  considered: { backend: Backend; score?: number; skipped?: string }[];
}

/** Expected cost (USD) of one job on a backend: billable minutes, plus the work redone after interruptions. */
export function expectedCost(spec: BackendSpec, audioSeconds: number): number {
  const billable = Math.max(audioSeconds, spec.minBillableSeconds) / 60;
  return spec.costPerMinute * billable * (1 + spec.interruptionRisk);
}

/**
 * Expected seconds until the job is done: start-up when no worker is warm, queue backlog, and
 * processing at the backend's speed (with redone work after interruptions).
 */
export function expectedSeconds(spec: BackendSpec, audioSeconds: number, stats: QueueStats, t: BackendTable): number {
  const processing = (audioSeconds * t.gpuRealTimeFactor) / spec.speedMultiplier;
  const startup = stats.pollers > 0 ? 0 : spec.startupSeconds;
  // Backlog is counted in chunk tasks; each holds up to 30 s of audio shared among the pollers.
  const backlogWait = (stats.backlog * 30 * t.gpuRealTimeFactor) / spec.speedMultiplier / Math.max(1, stats.pollers);
  return (startup + backlogWait + processing) * (1 + spec.interruptionRisk);
}

/**
 * Chooses the backend for a job among those its tier may use.
 * @param stats live stats per backend's queue; a backend whose queue has no pollers is skipped
 * @returns the best-scoring backend; if no allowed queue has pollers, the tier's first backend with
 *   `waitingForCapacity` (the job still starts: Temporal keeps its tasks until a worker comes)
 */
export function chooseBackend(
  job: { tier: Tier; audioSeconds: number; optimizeFor?: OptimizeFor },
  stats: Partial<Record<Backend, QueueStats>>,
  t: BackendTable = BACKEND_TABLE,
): BackendChoice {
  const allowed = t.tierBackends[job.tier];
  const optimizeFor = job.optimizeFor ?? 'balanced';
  const live = (b: Backend) => (stats[b]?.pollers ?? 0) > 0;
  const gpuLive = allowed.some((b) => b !== 'cpu' && live(b));
  const considered: BackendChoice['considered'] = [];
  let best: { backend: Backend; score: number } | null = null;
  for (const backend of allowed) {
    if (!live(backend)) {
      considered.push({ backend, skipped: 'no workers polling' });
      continue;
    }
    if (backend === 'cpu' && job.audioSeconds > t.longFileSeconds && gpuLive) {
      considered.push({ backend, skipped: `longer than ${t.longFileSeconds} s while a GPU queue has workers` });
      continue;
    }
    const spec = t.backends[backend];
    const cost = Math.max(expectedCost(spec, job.audioSeconds), 1e-9);
    const time = Math.max(expectedSeconds(spec, job.audioSeconds, stats[backend]!, t), 1e-9);
    const score = optimizeFor === 'cost' ? 1 / cost : optimizeFor === 'speed' ? 1 / time : 1 / (cost * time);
    considered.push({ backend, score });
    if (!best || score > best.score) best = { backend, score };
  }
  const backend = best?.backend ?? allowed[0];
  return {
    backend,
    expectedCostPerMinute: t.backends[backend].costPerMinute * (1 + t.backends[backend].interruptionRisk),
    waitingForCapacity: best === null,
    considered,
  };
}

/** A tier's fallback for chunks that keep failing on spot: its first allowed non-spot backend. */
export function fallbackBackend(tier: Tier, t: BackendTable = BACKEND_TABLE): Backend {
  return t.tierBackends[tier].find((b) => b !== 'gpu-spot') ?? 'cpu';
}
