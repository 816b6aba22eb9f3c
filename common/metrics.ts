/**
 * Every Prometheus metric fairscribe exports (names and labels are public: dashboards and alerts use them, README "Running at scale"),
 * and the small hooks the code calls where the events happen. One registry per process: the API,
 * each worker entry point and the dev stack serve it at `/metrics`.
 *
 * Seed "Key Metrics" groups → metrics:
 * - user experience: fairscribe_ttfr_seconds, fairscribe_queue_wait_seconds, fairscribe_segment_avg_logprob,
 *   fairscribe_segments_total / fairscribe_no_speech_segments_total (accuracy proxies by model)
 * - system efficiency: fairscribe_vad_seconds, fairscribe_speech_ratio, fairscribe_batch_size, fairscribe_batch_fill_ratio, fairscribe_inference_rtf,
 *   fairscribe_cost_per_audio_minute, fairscribe_cost_usd_total, fairscribe_queue_backlog,
 *   fairscribe_cpu_utilisation_ratio, fairscribe_gpu_utilisation_ratio
 * - business: fairscribe_jobs_total, fairscribe_billed_seconds_total, fairscribe_users, fairscribe_quota_utilisation_ratio,
 *   fairscribe_revenue_usd_total, fairscribe_revenue_per_gpu_hour
 */
import { Counter, Gauge, Histogram, Registry, collectDefaultMetrics } from 'prom-client';
import { BACKENDS, type Backend, type Tier } from './constants';
import { BACKEND_COST_PER_MINUTE, TIER_PRICE_PER_MINUTE } from './prices';
import { sampleCpuBusy, sampleGpus } from './metrics-system';

export const metricsRegistry = new Registry();
collectDefaultMetrics({ register: metricsRegistry, prefix: 'fairscribe_process_' });

const registers = [metricsRegistry];

// ── user experience ────────────────────────────────────────────────────────────────────────────
export const ttfrSeconds = new Histogram({
  name: 'fairscribe_ttfr_seconds',
  help: 'Time to first result: job created (upload admitted) to its first stored segment, seconds',
  labelNames: ['tier', 'model'] as const,
  buckets: [0.5, 1, 2, 5, 10, 20, 30, 60, 120, 300, 600, 1800],
  registers,
});

export const queueWaitSeconds = new Histogram({
  name: 'fairscribe_queue_wait_seconds',
  help: "A chunk activity's wait on its task queue: current attempt scheduled to started, seconds",
  labelNames: ['tier', 'queue'] as const,
  buckets: [0.01, 0.05, 0.1, 0.25, 0.5, 1, 2, 5, 10, 30, 60, 120, 300, 600],
  registers,
});

export const segmentAvgLogprob = new Histogram({
  name: 'fairscribe_segment_avg_logprob',
  help: "Accuracy proxy: a segment's mean token log-probability (closer to 0 is more confident)",
  labelNames: ['model'] as const,
  buckets: [-2, -1.5, -1, -0.8, -0.6, -0.4, -0.3, -0.2, -0.1, 0],
  registers,
});

export const segmentsTotal = new Counter({
  name: 'fairscribe_segments_total',
  help: 'Segments produced, by model',
  labelNames: ['model'] as const,
  registers,
});

/** Whisper's own threshold for treating a window as silence (openai/whisper transcribe.py no_speech_threshold). */
export const NO_SPEECH_THRESHOLD = 0.6;

export const noSpeechSegmentsTotal = new Counter({
  name: 'fairscribe_no_speech_segments_total',
  help: `Segments whose no-speech probability exceeds ${NO_SPEECH_THRESHOLD} (accuracy proxy: likely hallucinated text)`,
  labelNames: ['model'] as const,
  registers,
});

// ── system efficiency ──────────────────────────────────────────────────────────────────────────
export const batchSize = new Histogram({
  name: 'fairscribe_batch_size',
  help: 'Windows per engine run (dynamic batching), seen by each window',
  labelNames: ['queue', 'model'] as const,
  buckets: [1, 2, 3, 4, 6, 8, 12, 16],
  registers,
});

export const batchFillRatio = new Histogram({
  name: 'fairscribe_batch_fill_ratio',
  help: "Windows per engine run over the model's maxBatch",
  labelNames: ['queue', 'model'] as const,
  buckets: [0.125, 0.25, 0.375, 0.5, 0.625, 0.75, 0.875, 1],
  registers,
});

export const inferenceRtf = new Histogram({
  name: 'fairscribe_inference_rtf',
  help: 'Real-time factor of a chunk: inference wall time over audio duration (below 1 is faster than real time)',
  labelNames: ['queue', 'model'] as const,
  buckets: [0.005, 0.01, 0.02, 0.05, 0.1, 0.2, 0.5, 1, 2, 5],
  registers,
});

export const alignmentSeconds = new Histogram({
  name: 'fairscribe_alignment_seconds',
  help: "Word-timestamp alignment per 30 s window (the window's share of its batched decoder pass, plus DTW), seconds",
  labelNames: ['model'] as const,
  buckets: [0.01, 0.025, 0.05, 0.1, 0.2, 0.5, 1, 2],
  registers,
});

/** One window's word alignment time (engine TranscribeResult.alignmentSeconds). */
export function observeAlignment(model: string, seconds: number): void {
  alignmentSeconds.observe({ model }, seconds);
}

export const vadSeconds = new Histogram({
  name: 'fairscribe_vad_seconds',
  help: "Speech detection (Silero VAD) wall time per job's audio (per channel on multichannel jobs), seconds",
  buckets: [0.01, 0.05, 0.1, 0.25, 0.5, 1, 2, 5, 10, 30, 60],
  registers,
});

export const speechRatio = new Histogram({
  name: 'fairscribe_speech_ratio',
  help: "Share of a job's audio that speech detection kept (padded speech over duration, 0..1): the rest is neither transcribed nor billed",
  buckets: [0, 0.1, 0.2, 0.3, 0.4, 0.5, 0.6, 0.7, 0.8, 0.9, 1],
  registers,
});

export const costPerAudioMinute = new Gauge({
  name: 'fairscribe_cost_per_audio_minute',
  help: 'Cost of processing one audio minute on a backend, USD (config/backends.json)',
  labelNames: ['backend'] as const,
  registers,
});
for (const b of BACKENDS) costPerAudioMinute.set({ backend: b }, BACKEND_COST_PER_MINUTE[b]);

export const costUsdTotal = new Counter({
  name: 'fairscribe_cost_usd_total',
  help: 'Processing cost of completed jobs (billed minutes × the backend cost), USD',
  labelNames: ['tier', 'backend'] as const,
  registers,
});

export const queueBacklog = new Gauge({
  name: 'fairscribe_queue_backlog',
  help: "Tasks waiting on a task queue by Temporal priority key (DescribeTaskQueue statsByPriorityKey, polled)",
  labelNames: ['queue', 'priority'] as const,
  registers,
});

export const cpuUtilisation = new Gauge({
  name: 'fairscribe_cpu_utilisation_ratio',
  help: "The host's CPU busy fraction since the previous scrape (all cores, 0..1)",
  registers,
});

export const gpuUtilisation = new Gauge({
  name: 'fairscribe_gpu_utilisation_ratio',
  help: 'GPU busy fraction per device (nvidia-smi utilization.gpu / 100); absent without an NVIDIA GPU',
  labelNames: ['gpu'] as const,
  registers,
});

// ── event streams ──────────────────────────────────────────────────────────────────────────────
export const sseStreams = new Gauge({
  name: 'fairscribe_sse_streams',
  help: 'Open Server-Sent Event streams (GET /v1/jobs/{id}/events) on this API replica',
  registers,
});

export const eventListenerReconnects = new Counter({
  name: 'fairscribe_event_listener_reconnects_total',
  help: "Times this API replica's Postgres LISTEN connection for job events was re-established after a loss",
  registers,
});

// ── business ───────────────────────────────────────────────────────────────────────────────────
export const jobsTotal = new Counter({
  name: 'fairscribe_jobs_total',
  help: 'Jobs by tier and status: once at admission (status="queued") and once at the end (its terminal status)',
  labelNames: ['tier', 'status'] as const,
  registers,
});

export const billedSecondsTotal = new Counter({
  name: 'fairscribe_billed_seconds_total',
  help: 'Billed audio seconds of completed jobs (speech sent to inference, rounded up)',
  labelNames: ['tier', 'backend'] as const,
  registers,
});

export const revenueUsdTotal = new Counter({
  name: 'fairscribe_revenue_usd_total',
  help: 'Revenue of completed jobs (billed minutes × the tier price, config/prices.json), USD',
  labelNames: ['tier'] as const,
  registers,
});

/** Hostile or broken uploads cut off (api/body-timeout.ts, api/upload-slots.ts). */
export const bodyIdleTimeouts = new Counter({
  name: 'fairscribe_request_body_timeouts_total',
  help: 'Request bodies that made no progress for UPLOAD_IDLE_TIMEOUT_SECONDS and were answered 408 request_timeout',
  registers,
});

export const uploadsRefusedTotal = new Counter({
  name: 'fairscribe_uploads_refused_total',
  help: 'Uploads refused before their body was read because the user already had the tier\'s concurrentJobs uploads in flight',
  labelNames: ['tier'] as const,
  registers,
});

/** api/early-refusal.ts: refusals decided from the headers, before the upload's body was read. */
export const refusedBeforeBodyTotal = new Counter({
  name: 'fairscribe_uploads_refused_before_body_total',
  help: 'Uploads refused from their headers alone (declared size, running jobs at the concurrency limit, daily quota spent), before the body was read',
  labelNames: ['tier', 'code'] as const,
  registers,
});

export const usersByTier = new Gauge({
  name: 'fairscribe_users',
  help: 'Users by tier (tier distribution)',
  labelNames: ['tier'] as const,
  registers,
});

export const quotaUtilisation = new Gauge({
  name: 'fairscribe_quota_utilisation_ratio',
  help:
    "Mean quota use of the tier's users active today: used daily audio seconds over the daily limit, or for a tier " +
    'without a daily limit, running jobs over the concurrent-job limit',
  labelNames: ['tier'] as const,
  registers,
});

export const revenuePerGpuHourGauge = new Gauge({
  name: 'fairscribe_revenue_per_gpu_hour',
  help: 'Revenue of audio transcribed on GPU backends in the last hour per GPU-hour of inference it took, USD',
  registers,
});

// ── hooks, called where the events happen ────────────────────────────────────────────────────────

/** Speech detection of one audio stream finished: its wall time and the share of speech it kept. */
export function observeVad(o: { seconds: number; audioSeconds: number; speechSeconds: number }): void {
  vadSeconds.observe(o.seconds);
  if (o.audioSeconds > 0) speechRatio.observe(Math.min(1, o.speechSeconds / o.audioSeconds));
}

/** A chunk attempt started on a worker (activity Context info timestamps, milliseconds since the epoch). */
export function observeChunkStart(tier: string | undefined, queue: string, scheduledMs: number, startedMs = Date.now()): void {
  queueWaitSeconds.observe({ tier: tier ?? 'unknown', queue }, Math.max(0, startedMs - scheduledMs) / 1000);
}

/** A chunk was transcribed: RTF, batch sizes of its windows, and the accuracy proxies of its segments. */
export function observeChunkDone(o: {
  queue: string;
  model: string;
  audioSeconds: number;
  inferenceMs: number;
  batchSizes: number[];
  maxBatch: number;
  segments: { avgLogprob?: number; noSpeechProb?: number }[];
}): void {
  const l = { queue: o.queue, model: o.model };
  if (o.audioSeconds > 0) inferenceRtf.observe(l, o.inferenceMs / 1000 / o.audioSeconds);
  for (const b of o.batchSizes) {
    batchSize.observe(l, b);
    batchFillRatio.observe(l, Math.min(1, b / Math.max(1, o.maxBatch)));
  }
  // Zero increments create the series, so the no-speech rate reads 0 rather than "no data".
  noSpeechSegmentsTotal.inc({ model: o.model }, 0);
  for (const s of o.segments) {
    segmentsTotal.inc({ model: o.model });
    if (typeof s.avgLogprob === 'number' && Number.isFinite(s.avgLogprob)) segmentAvgLogprob.observe({ model: o.model }, s.avgLogprob);
    if ((s.noSpeechProb ?? 0) > NO_SPEECH_THRESHOLD) noSpeechSegmentsTotal.inc({ model: o.model });
  }
}

/** A job's first segment was stored `seconds` after the job was created. */
export function observeFirstResult(tier: string, model: string, seconds: number): void {
  ttfrSeconds.observe({ tier, model }, Math.max(0, seconds));
}

export const audioUrlFetchesTotal = new Counter({
  name: 'fairscribe_audio_url_fetches_total',
  help: 'Audio fetched by URL (POST /v1/jobs with url), by outcome: ok, not_allowed, unreachable, too_large, timeout',
  labelNames: ['outcome'] as const,
  registers,
});

/** One audio-by-URL fetch ended with `outcome`. */
export function audioUrlFetched(outcome: 'ok' | 'not_allowed' | 'unreachable' | 'too_large' | 'timeout'): void {
  audioUrlFetchesTotal.inc({ outcome });
}

/** A job was admitted (its workflow started). */
export function jobAdmitted(tier: Tier): void {
  jobsTotal.inc({ tier, status: 'queued' });
}

/**
 * A job reached its terminal status (call once per job: where its one terminal event is written).
 * Completed jobs also add their billed seconds, cost and revenue.
 */
export function jobEnded(o: { tier: Tier; status: string; backend?: Backend | null; billedSeconds?: number | null }): void {
  jobsTotal.inc({ tier: o.tier, status: o.status });
  if (o.status !== 'completed' || !o.backend || !o.billedSeconds) return;
  const minutes = o.billedSeconds / 60;
  billedSecondsTotal.inc({ tier: o.tier, backend: o.backend }, o.billedSeconds);
  costUsdTotal.inc({ tier: o.tier, backend: o.backend }, minutes * (BACKEND_COST_PER_MINUTE[o.backend] ?? 0));
  revenueUsdTotal.inc({ tier: o.tier }, minutes * (TIER_PRICE_PER_MINUTE[o.tier] ?? 0));
}

// ── scraping ─────────────────────────────────────────────────────────────────────────────────────

type Refresher = () => Promise<void>;
const refreshers = new Set<Refresher>();
/** A refresher may take this long before a scrape answers without it (the gauges keep their last value). */
const REFRESH_TIMEOUT_MS = 2_000;

/**
 * Registers a function that updates polled gauges (queue backlog, quota use, …) before each scrape.
 * @returns unregister
 */
export function onScrape(fn: Refresher): () => void {
  refreshers.add(fn);
  return () => refreshers.delete(fn);
}

/** CPU busy fraction since the previous scrape; GPU utilisation where nvidia-smi answers. */
async function systemUtilisation(): Promise<void> {
  cpuUtilisation.set(sampleCpuBusy());
  const gpus = await sampleGpus();
  gpuUtilisation.reset();
  for (const g of gpus) gpuUtilisation.set({ gpu: g.index }, g.utilisation);
}

/** The Prometheus text exposition of this process's metrics, after refreshing the polled gauges. */
export async function renderMetrics(): Promise<{ contentType: string; body: string }> {
  const all = [...refreshers, systemUtilisation];
  await Promise.allSettled(
    all.map((fn) => Promise.race([fn(), new Promise<void>((r) => setTimeout(r, REFRESH_TIMEOUT_MS).unref())])),
  );
  return { contentType: metricsRegistry.contentType, body: await metricsRegistry.metrics() };
}
