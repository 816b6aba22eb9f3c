/**
 * `npm start`: the whole local stack in the foreground until Ctrl-C — Postgres, Redis and the
 * Temporal dev server (with its UI) under .data/, the orchestration and CPU inference workers, and the
 * API. Writes .data/stack.json when everything is ready and removes it on stop.
 */
import * as path from 'node:path';
import { loadConfig, REPO_ROOT } from '../common/config';
import { openDeps } from '../common/deps';
import { createLogger } from '../common/log';
import { startApi } from '../api/server';
import { STACK_FILE, writeStackFile } from '../api/cli/stack-file';
import { startInferenceWorker, startOrchestrationWorker, type WorkerHandle } from '../workers/factory';
import { DEFAULT_PORTS, startAll } from './services';
import { ensureDevUser } from './dev-user';
import { stopOnSignals } from './foreground';

const DATA_DIR = path.join(REPO_ROOT, '.data');
/** The dev user's key: a local-development exception, never in production config. */
const DEV_KEY_FILE = path.join(DATA_DIR, 'dev-key.json');

async function main() {
  const log = createLogger({ component: 'stack' });
  const t0 = Date.now();
  log.info('starting services', { dataDir: DATA_DIR });
  const services = await startAll({ root: DATA_DIR, ports: DEFAULT_PORTS, ui: true });
  const config = loadConfig({
    ...process.env,
    DATABASE_URL: services.pg.url,
    REDIS_URL: services.redis.url,
    TEMPORAL_ADDRESS: services.temporal.address,
    TEMPORAL_UI_URL: services.temporal.uiUrl ?? '',
  });
  const workers: WorkerHandle[] = [];
  let api: Awaited<ReturnType<typeof startApi>> | undefined;
  let deps: Awaited<ReturnType<typeof openDeps>> | undefined;
  const stop = stopOnSignals(log, async () => {
    await api?.close().catch(() => undefined);
    await Promise.all(workers.map((w) => w.stop().catch(() => undefined)));
    await deps?.close().catch(() => undefined);
    await services.stop();
  });

  try {
    deps = await openDeps(config);
    const devKey = await ensureDevUser(deps.pool, DEV_KEY_FILE);
    workers.push(await startOrchestrationWorker(config, deps.pool, deps.quota));
    workers.push(await startInferenceWorker(config, deps.pool, 'cpu'));
    api = await startApi(config, deps);
    writeStackFile({
      apiUrl: api.url,
      temporalAddress: services.temporal.address,
      uiUrl: services.temporal.uiUrl ?? config.temporalUiUrl,
      devApiKey: devKey,
    });
    log.info('stack ready', { apiUrl: api.url, uiUrl: services.temporal.uiUrl, ms: Date.now() - t0, stackFile: STACK_FILE });
    process.stderr.write(`\nfairscribe is up: API ${api.url}, Temporal UI ${services.temporal.uiUrl}. Ctrl-C stops it.\n`);
    for (const w of workers) {
      w.running.catch((err) => {
        log.error('worker failed', { err });
        void stop(1);
      });
    }
  } catch (err) {
    log.error('start-up failed', { err });
    await stop(1);
  }
}

main().catch((err) => {
  console.error(err);
  process.exit(1);
});
