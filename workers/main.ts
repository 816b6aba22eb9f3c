/** Shared entry-point body: parse config once, connect, run one worker until SIGINT/SIGTERM. */
import { loadConfig } from '../common/config';
import { createPool, migrate } from '../common/db';
import { createLogger } from '../common/log';
import type { WorkerHandle } from './factory';
import type { Config } from '../common/config';
import type { Pool } from 'pg';

export async function runWorker(name: string, start: (config: Config, pool: Pool) => Promise<WorkerHandle>): Promise<void> {
  const log = createLogger({ component: name });
  const config = loadConfig();
  const pool = createPool(config.databaseUrl);
  await migrate(config.databaseUrl);
  const handle = await start(config, pool);
  log.info('worker polling', { taskQueue: handle.worker.options.taskQueue });
  for (const sig of ['SIGINT', 'SIGTERM'] as const) {
    process.once(sig, () => {
      log.info('draining', { signal: sig });
      handle.worker.shutdown();
    });
  }
  await handle.running;
  await pool.end();
  log.info('worker stopped');
}
