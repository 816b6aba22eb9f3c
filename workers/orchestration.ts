/** Entry point: workflows + audio/storage activities on `fairscribe-orchestration`. */
import { startOrchestrationWorker } from './factory';
import { runWorker } from './main';

runWorker('orchestration-worker', (config, deps) => startOrchestrationWorker(config, deps.pool, deps.quota)).catch((err) => {
  console.error(err);
  process.exit(1);
});
