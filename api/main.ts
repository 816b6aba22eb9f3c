/** Entry point of one API replica. */
import { loadConfig } from '../common/config';
import { openDeps } from '../common/deps';
import { createLogger } from '../common/log';
import { startApi } from './server';

async function main() {
  const log = createLogger({ component: 'api' });
  const config = loadConfig();
  const deps = await openDeps(config);
  const api = await startApi(config, deps);
  log.info('listening', { url: api.url });
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
