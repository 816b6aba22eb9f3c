/** Entry point of one API replica. */
import { loadConfig } from '../common/config';
import { openDeps } from '../common/deps';
import { createLogger } from '../common/log';
import { serveMetrics } from '../common/metrics-server';
import { startApi } from './server';

async function main() {
  const log = createLogger({ component: 'api' });
  const config = loadConfig();
  const deps = await openDeps(config);
  const api = await startApi(config, deps);
  // The API serves /metrics on its own port too; METRICS_PORT adds a listener that is not exposed to users.
  const metrics = config.metricsPort !== null ? await serveMetrics(config.metricsHost, config.metricsPort) : null;
  log.info('listening', { url: api.url, metrics: metrics?.url });
  for (const sig of ['SIGINT', 'SIGTERM'] as const) {
    process.once(sig, async () => {
      await api.close();
      await deps.close();
      process.exit(0);
    });
  }
}

main().catch((err) => {
  console.error(err);
  process.exit(1);
});
