/** Shared entry-point body: parse config once, connect, run one worker until SIGINT/SIGTERM. */
import { loadConfig, type Config } from '../common/config';
import { openDeps, type Deps } from '../common/deps';
import { createLogger } from '../common/log';
import type { Backend } from '../common/constants';
import { serveMetrics } from '../common/metrics-server';
import { startInferenceWorker, type WorkerHandle } from './factory';

export async function runWorker(name: string, start: (config: Config, deps: Deps) => Promise<WorkerHandle>): Promise<void> {
  const log = createLogger({ component: name });
  const config = loadConfig();
  const deps = await openDeps(config);
  const handle = await start(config, deps);
  const metrics = config.metricsPort !== null ? await serveMetrics(config.metricsHost, config.metricsPort) : null;
  log.info('worker polling', { taskQueue: handle.worker.options.taskQueue, metrics: metrics?.url });
  for (const sig of ['SIGINT', 'SIGTERM'] as const) {
    process.once(sig, () => {
      log.info('draining', { signal: sig });
      handle.worker.shutdown();
    });
  }
  await handle.running;
  await metrics?.close();
  await deps.close();
  log.info('worker stopped');
  // Drained: exit 0 so the orchestrator (Kubernetes, the spot fleet) sees a clean stop.
  process.exit(0);
}

/**
 * Entry-point body of an inference worker: one backend's task queue. GPU backends ask for the CUDA
 * execution provider unless WHISPER_EP says otherwise: then a model folder with only int8 graphs stops the worker
 * with the reason (workers/factory.ts assertGpuModelsUsable); without a CUDA provider at all, float graphs warn
 * once and run on the CPU.
 */
export function runInferenceEntry(backend: Backend): void {
  const wantsGpu = backend !== 'cpu';
  runWorker(`${backend}-worker`, (config, deps) =>
    startInferenceWorker(
      { ...config, executionProvider: process.env.WHISPER_EP ? config.executionProvider : wantsGpu ? 'cuda' : 'cpu' },
      deps.pool,
      backend,
    ),
  ).catch((err) => {
    console.error(err);
    process.exit(1);
  });
}
