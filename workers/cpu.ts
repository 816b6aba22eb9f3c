/** Entry point: inference on `transcribe-cpu` (CPU execution provider). */
import { startInferenceWorker } from './factory';
import { runWorker } from './main';

runWorker('cpu-worker', (config, deps) => startInferenceWorker(config, deps.pool, 'cpu')).catch((err) => {
  console.error(err);
  process.exit(1);
});
