/** Entry point of one API replica. */
import { loadConfig } from '../common/config';
import { createPool, migrate } from '../common/db';
import { createLogger } from '../common/log';
import { startApi } from './server';

async function main() {
  const log = createLogger({ component: 'api' });
  const config = loadConfig();
  const pool = createPool(config.databaseUrl);
  await migrate(config.databaseUrl);
  const api = await startApi(config, pool);
  log.info('listening', { url: api.url });
  for (const sig of ['SIGINT', 'SIGTERM'] as const) {
    process.once(sig, async () => {
      await api.close();
      await pool.end();
      process.exit(0);
    });
  }
}

main().catch((err) => {
  console.error(err);
  process.exit(1);
});
