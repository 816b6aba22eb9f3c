/** Shared entry-point body: parse config once, connect, run one worker until SIGINT/SIGTERM. */
import { loadConfig, type Config } from '../common/config';
import { openDeps, type Deps } from '../common/deps';
import { createLogger } from '../common/log';
import type { WorkerHandle } from './factory';

export async function runWorker(name: string, start: (config: Config, deps: Deps) => Promise<WorkerHandle>): Promise<void> {
  const log = createLogger({ component: name });
  const config = loadConfig();
  const deps = await openDeps(config);
  const handle = await start(config, deps);
  log.info('worker polling', { taskQueue: handle.worker.options.taskQueue });
  for (const sig of ['SIGINT', 'SIGTERM'] as const) {
    process.once(sig, () => {
      log.info('draining', { signal: sig });
      handle.worker.shutdown();
    });
  }
  await handle.running;
  await deps.close();
  log.info('worker stopped');
}
