import * as crypto from 'node:crypto';
import * as fs from 'node:fs';
import * as path from 'node:path';
import { z } from 'zod';
import { TIERS, type Tier } from './constants';
import { DEFAULT_TIERS, type TierLimits } from './tiers';
import { parseAllowList, type AllowList } from '../webhooks/ssrf';
import { blobEnvSchema, blobStoreConfig, type BlobStoreConfig } from './blob-config';
import type { CpuPrecision, WeightVariant } from '../engine/precision';

/** The repository root (this file lives in <root>/common). */
export const REPO_ROOT = path.resolve(__dirname, '..');

const tierLimitsSchema = z.object({
  dailySeconds: z.number().int().positive().nullable(),
  concurrentJobs: z.number().int().positive(),
  maxFileBytes: z.number().int().positive(),
  maxAudioSeconds: z.number().positive(),
  requestsPerMinute: z.number().int().positive(),
  fairnessWeight: z.number().positive(),
});
const tierTableSchema = z.object(
  Object.fromEntries(TIERS.map((t) => [t, tierLimitsSchema])) as Record<Tier, typeof tierLimitsSchema>,
);

const envSchema = z.object({
  DATABASE_URL: z.string().default('postgres://postgres@127.0.0.1:5432/fairscribe'),
  REDIS_URL: z.string().default('redis://127.0.0.1:6379'),
  TEMPORAL_ADDRESS: z.string().default('127.0.0.1:7233'),
  TEMPORAL_NAMESPACE: z.string().default('default'),
  TEMPORAL_UI_URL: z.string().default('http://127.0.0.1:8233'),
  BLOB_DIR: z.string().default(path.join(REPO_ROOT, '.data', 'blobs')),
  WHISPER_MODELS_DIR: z.string().default(path.resolve(REPO_ROOT, '..', 'shared', 'models')),
  /** Intra-op threads for onnxruntime (CPU execution provider). */
  INFERENCE_THREADS: z.coerce.number().int().positive().default(2),
  /** `cuda` asks for the CUDA execution provider; it falls back to CPU with a warning. */
  WHISPER_EP: z.enum(['cpu', 'cuda']).default('cpu'),
  /**
   * Which weights the Whisper graphs hold (docs/models.md "Weights"): `shipped` (the int8 files in WHISPER_MODELS_DIR),
   * `ct2-int8` / `ct2-fp32` (rebuilt from the original CTranslate2 weights by infra/models/ct2-models.sh; missing or
   * stale ones fall back to `shipped` with a warning).
   */
  WHISPER_WEIGHTS: z.enum(['shipped', 'ct2-int8', 'ct2-fp32']).default('shipped'),
  /**
   * The graphs CPU inference workers run the shipped weights at (docs/models.md "fp32 on the CPU"; WHISPER_EP=cuda
   * ignores it), for every model alike; unset: each model's `cpuPrecision` in config/models.json (base:
   * `fp32-encoder`; tiny.en and others `int8`; docs/models.md "Which graphs each model runs"). `fp32-encoder`: the fp32 encoder
   * (below) with the shipped int8 decoder, one window per model run (telephone-band WER base 33.8 → 16.9 %, ~1.1× int8's
   * engine time on base, ~1.4× on tiny.en). `int8`: the shipped int8 graphs, one window per model run (their activation scale spans the
   * batch; faster per window than fp32 batched on 2 cores, half the memory). `fp32` (opt-in): the shipped weights dequantised to fp32, batched (a window's text is its own at any
   * batch size; at least as accurate as int8 on every row of the long-form WER set), from the model folder itself
   * or from FAIRSCRIBE_FLOAT_MODELS (default ~/.cache/fairscribe/models-float, built by infra/models/float-models.sh,
   * checked by sha256); when those are missing or stale the worker warns once per model and runs `int8`.
   */
  WHISPER_CPU_PRECISION: z.enum(['fp32', 'int8', 'fp32-encoder']).optional(),
  /**
   * Concurrent `transcribeChunk` activities per inference worker: twice the largest maxBatch (8), so the
   * next batch is already waiting in the batcher while one runs, instead of the engine idling while
   * finished chunks store their results and Temporal hands the worker new ones. Measured by
   * bench:pipeline (docs/capacity.md): tiny.en pipeline efficiency 80 % at 8, 97 % at 16.
   */
  INFERENCE_CONCURRENCY: z.coerce.number().int().positive().default(16),
  /**
   * false: the inference workers decode at temperature 0 only, without Whisper's temperature fallback
   * (benchmarks that compare with peers pinned alike: bench/pipeline.ts). Default true.
   */
  WHISPER_TEMPERATURE_FALLBACK: z.enum(['true', 'false']).default('true'),
  /**
   * Chunks of one model inside the engine thread at once per inference worker; the worker's other chunks wait in
   * arrival order (activities/engine-gate.ts). Unset: 1 for a model whose windows run one per model run (the shipped
   * int8 graphs on the CPU), no limit for a batched one (its batcher fills batches from them). 16 (= the slots)
   * is the behaviour before the gate: every chunk inside, interleaved at each model run. Measured by bench:pipeline
   * (docs/capacity.md "Pipeline throughput", round 5).
   */
  INFERENCE_ENGINE_IN_FLIGHT: z.coerce.number().int().positive().optional(),
  /** How long a window waits for others before its batch runs anyway (ms). */
  BATCH_MAX_WAIT_MS: z.coerce.number().int().min(0).default(50),
  /** Overrides every model's maxBatch from config/models.json (benchmarks, tests). */
  BATCH_MAX: z.coerce.number().int().positive().optional(),
  /**
   * onnxruntime's intra-op threads busy-wait between ops (`session.intra_op.allow_spinning`, onnxruntime's default
   * "1"); false (our default) lets them sleep, leaving the cores to the worker's event loop and the other processes
   * between ops (engine/node-loader.ts LoadOptions.allowSpinning). Measured by bench:pipeline, one engine per process
   * (docs/capacity.md "Pipeline throughput", round 5): off, tiny.en's engine ran 1.9–2.0× and the pipeline 1.6–3×
   * faster than on at the same load, and the worker spent 11 CPU seconds on the job against 17–21 s spinning.
   * 'during-run': the threads spin between the ops of a run and stop when it returns (onnxruntime's
   * `session.force_spinning_stop`), so no op waits for a sleeping thread and nothing busy-waits between runs.
   */
  INFERENCE_ALLOW_SPINNING: z.enum(['true', 'false', 'during-run']).default('false'),
  /** On SIGTERM (a spot interruption notice) a worker stops polling and lets in-flight chunks finish for this long. */
  DRAIN_DEADLINE_S: z.coerce.number().positive().default(60),
  /** Attempts a chunk gets on gpu-spot before it moves to the tier's fallback backend. */
  SPOT_ATTEMPTS: z.coerce.number().int().positive().default(2),
  /** Chunks one workflow runs itself; a longer job runs them in child workflows of this many (history bound, workflows/chunks.ts). */
  CHUNKS_PER_CHILD_WORKFLOW: z.coerce.number().int().positive().default(1000),
  /**
   * Audio preparation streams the normalised PCM in blocks of this many seconds (float32 16 kHz: 64 KB
   * per second), never the whole file (audio/prepare.ts). Small values only cost time; tests use 1.
   */
  PCM_READ_BLOCK_SECONDS: z.coerce.number().positive().default(30),
  /**
   * Audio preparation signals the workflow the chunks its decoded prefix settles, so they start while the rest of the
   * file is prepared (activities/audio.ts, workflows/transcription.ts; local blob store only). `false`: every chunk
   * waits for the whole file's preparation, as before (for measuring the overlap, docs/capacity.md round 6).
   */
  PREPARE_ANNOUNCE_CHUNKS: z.enum(['true', 'false']).default('true'),
  /**
   * Workflow patches (ids as `patched()` names them, comma-separated) the orchestration worker leaves inactive in
   * workflows that reach them from now on (Temporal's patchActivationCallback: no marker, the code before the patch
   * runs; workflows that already recorded the marker keep it). For a staged rollout, and the A/B switch of
   * bench:pipeline, e.g. `finish-as-local-activities` (workflows/transcription.ts). Empty: every patch active.
   */
  WORKFLOW_PATCHES_OFF: z.string().default(''),
  /** Audio longer than this goes to POST /v1/jobs, not the synchronous OpenAI-compatible routes (seconds). */
  SYNC_MAX_AUDIO_S: z.coerce.number().positive().default(20 * 60),
  /** Signs browser tokens (POST /v1/tokens); every API replica must share it. Unset: random per process. */
  TOKEN_SECRET: z.string().min(32).optional(),
  /** Privacy mode: seconds an edge job waits for the browser's result (the edge token's lifetime). */
  EDGE_DEADLINE_S: z.coerce.number().positive().default(30 * 60),
  /** Privacy mode with fallback: seconds after the edge deadline during which the audio may be uploaded. */
  EDGE_UPLOAD_DEADLINE_S: z.coerce.number().positive().default(60 * 60),
  /** Largest edge result body accepted, in bytes (12 h of speech is well under 1 MB of JSON). */
  EDGE_RESULT_MAX_BYTES: z.coerce.number().int().positive().default(1_000_000),
  API_HOST: z.string().default('127.0.0.1'),
  API_PORT: z.coerce.number().int().min(0).max(65535).default(8080),
  FAIRSCRIBE_TIERS_FILE: z.string().optional(),
  /** A live stream (GET /v1/listen) must send its start message within this many seconds. */
  LIVE_START_TIMEOUT_S: z.coerce.number().positive().default(10),
  /** A live stream that sends nothing for this many seconds is closed (idle_timeout). */
  LIVE_IDLE_TIMEOUT_S: z.coerce.number().positive().default(15),
  /** A request body (upload) that sends no byte for this many seconds is answered 408 request_timeout and closed; also the request-header timeout. Progress resets it: slow uploads that keep moving are never cut. Match nginx's client_body_timeout. */
  UPLOAD_IDLE_TIMEOUT_SECONDS: z.coerce.number().positive().default(60),
  /** Non-public ranges webhooks may reach: ipaddr.js range names and CIDRs, comma-separated (e.g. "loopback"). Empty: public addresses only. */
  WEBHOOK_ALLOW: z.string().default(''),
  /** Non-public ranges audio URLs (POST /v1/jobs `url`) may reach, WEBHOOK_ALLOW's syntax. Empty: public addresses only. */
  AUDIO_URL_ALLOW: z.string().default(''),
  /** Fetching an audio URL (every redirect included) must end within this many seconds. */
  AUDIO_URL_TIMEOUT_SECONDS: z.coerce.number().positive().default(300),
  LOG_LEVEL: z.enum(['debug', 'info', 'warn', 'error']).default('info'),
  /** A worker process serves our Prometheus metrics on this port (unset: none; the API also serves them at /metrics). */
  METRICS_PORT: z.coerce.number().int().min(0).max(65535).optional(),
  /** Interface the metrics listeners bind (0.0.0.0 in a pod, so Prometheus can reach them). */
  METRICS_HOST: z.string().default('127.0.0.1'),
  /** The Temporal SDK's own worker metrics (its Prometheus exporter) on this port (unset: off). */
  TEMPORAL_METRICS_PORT: z.coerce.number().int().min(1).max(65535).optional(),
  ...blobEnvSchema.shape,
});

export interface Config {
  databaseUrl: string;
  redisUrl: string;
  temporalAddress: string;
  temporalNamespace: string;
  temporalUiUrl: string;
  blobDir: string;
  modelsDir: string;
  inferenceThreads: number;
  executionProvider: 'cpu' | 'cuda';
  /** WHISPER_WEIGHTS; absent = 'shipped' */
  weightVariant?: WeightVariant;
  /** WHISPER_CPU_PRECISION; absent = each model's default (engine/precision.ts defaultCpuPrecision) */
  cpuPrecision?: CpuPrecision;
  inferenceConcurrency: number;
  /** INFERENCE_ENGINE_IN_FLIGHT; absent or null = by the model's batching (workers/factory.ts engineInFlightFor) */
  engineInFlight?: number | null;
  /** WHISPER_TEMPERATURE_FALLBACK */
  temperatureFallback: boolean;
  batchMaxWaitMs: number;
  batchMaxOverride: number | null;
  /** INFERENCE_ALLOW_SPINNING; default false (onnxruntime's own default is true); 'during-run': spinning stops after each run */
  inferenceAllowSpinning: boolean | 'during-run';
  drainDeadlineSeconds: number;
  spotAttempts: number;
  chunksPerChildWorkflow: number;
  /** seconds of PCM per block in audio preparation (PCM_READ_BLOCK_SECONDS) */
  pcmReadBlockSeconds: number;
  /** PREPARE_ANNOUNCE_CHUNKS (default true) */
  prepareAnnounceChunks: boolean;
  /** WORKFLOW_PATCHES_OFF: patch ids left inactive in workflows that first reach them on this worker */
  workflowPatchesOff: string[];
  syncMaxAudioSeconds: number;
  tokenSecret: Buffer;
  edge: { deadlineSeconds: number; uploadDeadlineSeconds: number; resultMaxBytes: number };
  apiHost: string;
  apiPort: number;
  tiers: Record<Tier, TierLimits>;
  webhookAllow: AllowList;
  /** audio by URL: allowed non-public ranges, and the whole fetch's time limit */
  audioUrl: { allow: AllowList; timeoutSeconds: number };
  liveStartTimeoutSeconds: number;
  liveIdleTimeoutSeconds: number;
  /** request bodies (uploads) without progress for this long are cut: 408 request_timeout */
  uploadIdleTimeoutSeconds: number;
  logLevel: 'debug' | 'info' | 'warn' | 'error';
  metricsPort: number | null;
  metricsHost: string;
  temporalMetricsPort: number | null;
  /** where blobs live: a local directory (default) or S3-compatible object storage */
  blobStore: BlobStoreConfig;
}

/** AUDIO_URL_ALLOW in WEBHOOK_ALLOW's syntax (webhooks/ssrf.ts), its errors naming the right variable. */
function parseAudioUrlAllow(spec: string): AllowList {
  try {
    return parseAllowList(spec);
  } catch (err) {
    throw new Error(`invalid configuration:\n  AUDIO_URL_ALLOW: ${(err as Error).message.replace(/^WEBHOOK_ALLOW: /, '')}`);
  }
}

/**
 * Parses and validates the process environment once, at start-up.
 * @throws Error listing every invalid variable (a process should exit on it, not limp on).
 */
export function loadConfig(env: NodeJS.ProcessEnv = process.env): Config {
  const parsed = envSchema.safeParse(env);
  if (!parsed.success) {
    const lines = parsed.error.issues.map((i) => `  ${i.path.join('.')}: ${i.message}`);
    throw new Error(`invalid configuration:\n${lines.join('\n')}`);
  }
  const e = parsed.data;
  let tiers = DEFAULT_TIERS;
  if (e.FAIRSCRIBE_TIERS_FILE) {
    const raw = JSON.parse(fs.readFileSync(e.FAIRSCRIBE_TIERS_FILE, 'utf8'));
    const t = tierTableSchema.safeParse(raw);
    if (!t.success) throw new Error(`invalid tier table ${e.FAIRSCRIBE_TIERS_FILE}: ${t.error.message}`);
    tiers = t.data;
  }
  return {
    databaseUrl: e.DATABASE_URL,
    redisUrl: e.REDIS_URL,
    temporalAddress: e.TEMPORAL_ADDRESS,
    temporalNamespace: e.TEMPORAL_NAMESPACE,
    temporalUiUrl: e.TEMPORAL_UI_URL,
    blobDir: path.resolve(e.BLOB_DIR),
    modelsDir: path.resolve(REPO_ROOT, e.WHISPER_MODELS_DIR),
    inferenceThreads: e.INFERENCE_THREADS,
    executionProvider: e.WHISPER_EP,
    weightVariant: e.WHISPER_WEIGHTS,
    cpuPrecision: e.WHISPER_CPU_PRECISION,
    inferenceConcurrency: e.INFERENCE_CONCURRENCY,
    engineInFlight: e.INFERENCE_ENGINE_IN_FLIGHT ?? null,
    temperatureFallback: e.WHISPER_TEMPERATURE_FALLBACK === 'true',
    batchMaxWaitMs: e.BATCH_MAX_WAIT_MS,
    batchMaxOverride: e.BATCH_MAX ?? null,
    inferenceAllowSpinning: e.INFERENCE_ALLOW_SPINNING === 'during-run' ? 'during-run' : e.INFERENCE_ALLOW_SPINNING === 'true',
    drainDeadlineSeconds: e.DRAIN_DEADLINE_S,
    spotAttempts: e.SPOT_ATTEMPTS,
    chunksPerChildWorkflow: e.CHUNKS_PER_CHILD_WORKFLOW,
    pcmReadBlockSeconds: e.PCM_READ_BLOCK_SECONDS,
    prepareAnnounceChunks: e.PREPARE_ANNOUNCE_CHUNKS === 'true',
    workflowPatchesOff: e.WORKFLOW_PATCHES_OFF.split(',').map((x) => x.trim()).filter(Boolean),
    syncMaxAudioSeconds: e.SYNC_MAX_AUDIO_S,
    tokenSecret: e.TOKEN_SECRET ? Buffer.from(e.TOKEN_SECRET) : crypto.randomBytes(32),
    edge: {
      deadlineSeconds: e.EDGE_DEADLINE_S,
      uploadDeadlineSeconds: e.EDGE_UPLOAD_DEADLINE_S,
      resultMaxBytes: e.EDGE_RESULT_MAX_BYTES,
    },
    apiHost: e.API_HOST,
    apiPort: e.API_PORT,
    tiers,
    webhookAllow: parseAllowList(e.WEBHOOK_ALLOW),
    audioUrl: { allow: parseAudioUrlAllow(e.AUDIO_URL_ALLOW), timeoutSeconds: e.AUDIO_URL_TIMEOUT_SECONDS },
    liveStartTimeoutSeconds: e.LIVE_START_TIMEOUT_S,
    liveIdleTimeoutSeconds: e.LIVE_IDLE_TIMEOUT_S,
    uploadIdleTimeoutSeconds: e.UPLOAD_IDLE_TIMEOUT_SECONDS,
    logLevel: e.LOG_LEVEL,
    metricsPort: e.METRICS_PORT ?? null,
    metricsHost: e.METRICS_HOST,
    temporalMetricsPort: e.TEMPORAL_METRICS_PORT ?? null,
    blobStore: blobStoreConfig(e, path.resolve(e.BLOB_DIR)),
  };
}
