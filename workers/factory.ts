/**
 * Worker construction shared by the entry points (one per task queue) and the tests, which run the
 * same workers in-process against their own services.
 */
import * as fs from 'node:fs';
import * as path from 'node:path';
import { NativeConnection, Runtime, Worker, type WorkerOptions } from '@temporalio/worker';
import type { Pool } from 'pg';
import { createAudioActivities } from '../activities/audio';
import { createChannelsActivities } from '../activities/channels';
import { createNotifyActivities } from '../activities/notify';
import type { WebhookTransport } from '../webhooks/deliver';
import { createInferenceActivities } from '../activities/inference';
import { createLiveActivities } from '../activities/live';
import { createQuotaActivities } from '../activities/quota';
import { createEdgeActivities } from '../activities/edge';
import { createStorageActivities } from '../activities/storage';
import { createRetentionActivities } from '../activities/retention';
import { createBlobStore } from '../common/blobs';
import type { Config } from '../common/config';
import { BACKEND_TASK_QUEUE, TASK_QUEUES, type Backend } from '../common/constants';
import { createLogger } from '../common/log';
import { patientPool } from '../common/patient-pool';
import { EngineClient } from '../engine/client';
import { VadThread } from '../audio/vad-client';
import { GRAPH_FILES } from '../engine/files';
import { chooseCpuGraphs, choosePrecision, defaultCpuPrecision, WEIGHT_VARIANTS } from '../engine/precision';
import type { QuotaService } from '../quota/quota-service';
import { MODEL_REGISTRY } from '../common/routing';
import { workflowBundle } from './bundle';
import { activityLogInterceptors } from './activity-log';
import { temporalLogger } from './logging';

let runtimeInstalled = false;
/**
 * The SDK's runtime, once per process, logging our JSON lines (workers/logging.ts). With
 * TEMPORAL_METRICS_PORT its Prometheus exporter serves the SDK's own worker metrics (task slots,
 * poll and schedule-to-start latencies, sticky cache) there.
 */
function installRuntime(config: Config): void {
  if (runtimeInstalled) return;
  runtimeInstalled = true;
  try {
    Runtime.install({
      logger: temporalLogger(),
      ...(config.temporalMetricsPort
        ? {
            telemetryOptions: {
              metrics: {
                metricPrefix: 'temporal_',
                prometheus: { bindAddress: `${config.metricsHost}:${config.temporalMetricsPort}`, useSecondsForDurations: true },
              },
            },
          }
        : {}),
    });
  } catch {
    // already installed by the embedding process (e.g. a test that configured its own)
  }
}

export interface WorkerHandle {
  worker: Worker;
  /** resolves when the worker has shut down */
  running: Promise<void>;
  /** stops polling, lets in-flight tasks finish, releases resources */
  stop(): Promise<void>;
}

function start(worker: Worker, cleanup: () => Promise<void>): WorkerHandle {
  const running = worker.run().finally(cleanup);
  return {
    worker,
    running,
    async stop() {
      if (worker.getState() === 'RUNNING') worker.shutdown();
      await running;
    },
  };
}

/** Workflows plus audio preparation and storage activities, on `fairscribe-orchestration`. */
export async function startOrchestrationWorker(
  config: Config,
  pool: Pool,
  quota: QuotaService,
  extra: Partial<WorkerOptions> = {},
  /** how webhooks reach the network (tests inject a resolver and a connect guard) */
  webhookTransport?: WebhookTransport,
): Promise<WorkerHandle> {
  installRuntime(config);
  const connection = await NativeConnection.connect({ address: config.temporalAddress });
  const blobs = createBlobStore(config.blobStore);
  const worker = await Worker.create({
    connection,
    namespace: config.temporalNamespace,
    taskQueue: TASK_QUEUES.orchestration,
    workflowBundle: await workflowBundle(),
    activities: {
      ...createAudioActivities({
        blobs,
        pool: patientPool(pool),
        pcmBlockSeconds: config.pcmReadBlockSeconds,
        tiers: config.tiers,
        announceChunks: config.prepareAnnounceChunks,
      }),
      ...createStorageActivities({ pool: patientPool(pool), blobs }),
      ...createRetentionActivities({ pool: patientPool(pool), blobs }),
      ...createChannelsActivities({ pool: patientPool(pool), blobs, pcmBlockSeconds: config.pcmReadBlockSeconds, tiers: config.tiers }),
      ...createQuotaActivities({ quota }),
      ...createNotifyActivities({ pool, allow: config.webhookAllow, transport: webhookTransport }),
      ...createEdgeActivities({ pool, quota, tiers: config.tiers }),
    },
    interceptors: { activity: [activityLogInterceptors] },
    // WORKFLOW_PATCHES_OFF: those patches stay inactive where a workflow meets them live (replays follow their markers).
    ...(config.workflowPatchesOff.length > 0 ? { patchActivationCallback: ({ patchId }) => !config.workflowPatchesOff.includes(patchId) } : {}),
    ...extra,
  });
  // Audio preparation's VAD thread (audio/vad-client.ts) ends with the worker, so the process can exit.
  return start(worker, async () => {
    await connection.close();
    await VadThread.closeShared();
  });
}

/** Installed model folders (those with an encoder of any precision), by id. */
export function installedModels(modelsDir: string): string[] {
  if (!fs.existsSync(modelsDir)) return [];
  return fs
    .readdirSync(modelsDir)
    .filter((d) => Object.values(GRAPH_FILES).some((g) => fs.existsSync(path.join(modelsDir, d, g.encoder))))
    .sort();
}

/**
 * A GPU queue's worker with CUDA requested must have float graphs for every model it serves: int8 graphs would
 * run on the CPU (engine/precision.ts). Checked before anything is loaded or polled, so the process exits with
 * the reason instead of serving a GPU queue at CPU speed.
 * @throws Int8OnCudaError naming the folder and how to make float graphs
 */
export function assertGpuModelsUsable(config: Pick<Config, 'executionProvider' | 'modelsDir'>, backend: Backend, models: string[]): void {
  if (!backend.startsWith('gpu-') || config.executionProvider !== 'cuda') return;
  for (const m of models) choosePrecision(path.join(config.modelsDir, m), 'cuda');
}

/**
 * Whether the engine batches `model`'s windows on this worker (engine/node-loader.ts loadWhisper's rule for the
 * worker's options): the shipped int8 graphs, and the ct2 int8 rebuilds, run one window per model run; fp32 and
 * CUDA's float graphs batch. Read from the folders as the loader reads them (no model is loaded).
 */
export function windowsBatched(config: Pick<Config, 'executionProvider' | 'modelsDir' | 'weightVariant' | 'cpuPrecision'>, model: string): boolean {
  const modelDir = path.join(config.modelsDir, model);
  try {
    if (config.executionProvider === 'cuda') return choosePrecision(modelDir, 'cuda') !== 'int8';
    const variant = WEIGHT_VARIANTS[config.weightVariant ?? 'shipped'];
    if (variant.precision) return variant.precision !== 'int8';
    return chooseCpuGraphs(modelDir, config.cpuPrecision ?? defaultCpuPrecision(modelDir)).precision !== 'int8';
  } catch {
    return false;
  }
}

/**
 * Chunks of `model` inside the engine thread at once (activities/engine-gate.ts): INFERENCE_ENGINE_IN_FLIGHT, else
 * 1 where windows run one per model run (interleaved they only finish together, late), no limit where they batch.
 */
export function engineInFlightFor(config: Pick<Config, 'executionProvider' | 'modelsDir' | 'weightVariant' | 'cpuPrecision' | 'engineInFlight'>, model: string): number {
  if (config.engineInFlight) return config.engineInFlight;
  return windowsBatched(config, model) ? Infinity : 1;
}

/**
 * The engine thread's load options of an inference worker: threads, execution provider, weights and graphs,
 * onnxruntime spinning. bench/pipeline.ts runs its "engine alone" side with the same, so its efficiency compares
 * like with like (it ran the shipped int8 graphs while the workers ran each model's fp32-encoder default).
 */
export function engineLoadOptions(
  config: Pick<Config, 'inferenceThreads' | 'executionProvider' | 'weightVariant' | 'cpuPrecision' | 'inferenceAllowSpinning'>,
): ConstructorParameters<typeof EngineClient>[0] {
  return {
    threads: config.inferenceThreads,
    executionProvider: config.executionProvider,
    ...WEIGHT_VARIANTS[config.weightVariant ?? 'shipped'],
    // after the variant: WHISPER_CPU_PRECISION decides the shipped weights' graphs (a ct2-* variant names its own);
    // unset, each model's own default (config/models.json cpuPrecision, engine/precision.ts defaultCpuPrecision)
    cpuPrecision: config.cpuPrecision,
    ...(config.inferenceAllowSpinning === true ? {} : { allowSpinning: config.inferenceAllowSpinning }),
  };
}

/** Dynamic batching per model folder: maxBatch from the model registry (BATCH_MAX overrides), BATCH_MAX_WAIT_MS. */
export function engineBatching(config: Pick<Config, 'batchMaxOverride' | 'batchMaxWaitMs'>): ConstructorParameters<typeof EngineClient>[2] {
  return (modelDir) => ({
    maxBatch: config.batchMaxOverride ?? MODEL_REGISTRY.models[path.basename(modelDir)]?.maxBatch ?? 1,
    maxWaitMs: config.batchMaxWaitMs,
  });
}

/**
 * An activity-only inference worker for one backend's task queue. Models are loaded into the engine
 * thread before polling starts, so the first task does not pay for the load.
 */
export async function startInferenceWorker(
  config: Config,
  pool: Pool,
  backend: Backend,
  opts: { preload?: string[]; extra?: Partial<WorkerOptions> } = {},
): Promise<WorkerHandle> {
  const models = opts.preload ?? installedModels(config.modelsDir);
  assertGpuModelsUsable(config, backend, models);
  installRuntime(config);
  const log = createLogger({ component: 'inference-worker', backend });
  const engine = new EngineClient(engineLoadOptions(config), (message) => log.warn(message), engineBatching(config));
  for (const m of models) {
    await engine.preload(path.join(config.modelsDir, m));
  }
  const connection = await NativeConnection.connect({ address: config.temporalAddress });
  const blobs = createBlobStore(config.blobStore);
  const worker = await Worker.create({
    connection,
    namespace: config.temporalNamespace,
    taskQueue: BACKEND_TASK_QUEUE[backend],
    activities: {
      // A database restart makes chunks wait, not fail (common/patient-pool.ts).
      ...createInferenceActivities({
        pool: patientPool(pool),
        blobs,
        engine,
        modelsDir: config.modelsDir,
        temperatureFallback: config.temperatureFallback,
        engineInFlight: (model) => engineInFlightFor(config, model),
      }),
      ...createLiveActivities({ pool, blobs, engine, modelsDir: config.modelsDir }),
    },
    maxConcurrentActivityTaskExecutions: config.inferenceConcurrency,
    // SIGTERM → stop polling, give in-flight chunks the drain deadline, then cancel what is left
    // (Temporal retries it elsewhere; stored chunk results make the retry cheap).
    shutdownGraceTime: `${config.drainDeadlineSeconds}s`,
    interceptors: { activity: [activityLogInterceptors] },
    ...opts.extra,
  });
  return start(worker, async () => {
    await engine.close();
    await connection.close();
  });
}
