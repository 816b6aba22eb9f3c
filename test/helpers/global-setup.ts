/**
 * Starts Postgres, Redis and the Temporal dev server once per integration run, on free ports in a
 * temporary directory (never the `npm start` stack), and builds the workflow bundle once.
 */
import * as fs from 'node:fs';
import * as os from 'node:os';
import * as path from 'node:path';
import { startAll } from '../../infra/services';
import { workflowBundle } from '../../workers/bundle';

/**
 * One Temporal namespace per test app (80: the run starts about 45 apps today, one per file and a few more; 40 ran
 * out when this session added five files): task queues, pollers and fairness state are per namespace, so a
 * file's leftover workflows or the pollers of workers it stopped can never steer the next file's jobs.
 */
export const TEST_NAMESPACE_COUNT = 80;
const TEST_NAMESPACES = Array.from({ length: TEST_NAMESPACE_COUNT }, (_, i) => `fs-test-${i}`);

/**
 * The test server's own dynamic config: DescribeTaskQueue's backlog count uncached (the server keeps it 5 s by
 * default, matching.TaskQueueInfoByBuildIdTTL), so test/helpers/scheduling-rig.ts waitInMatching reads the
 * backlog matching holds now, not one from before the last dispatches.
 */
const TEST_TEMPORAL_DYNAMIC_CONFIG = ['matching.TaskQueueInfoByBuildIdTTL="1ms"'];

export default async function globalSetup(): Promise<void> {
  const root = fs.mkdtempSync(path.join(os.tmpdir(), 'fairscribe-test-'));
  const t0 = Date.now();
  const [services] = await Promise.all([
    startAll({ root, fresh: true, fast: true, extraNamespaces: TEST_NAMESPACES, temporalDynamicConfig: TEST_TEMPORAL_DYNAMIC_CONFIG }),
    workflowBundle(),
  ]);
  (globalThis as Record<string, unknown>).__FAIRSCRIBE_SERVICES__ = services;
  // Test files (in-band or in Jest workers, which inherit the environment) read the addresses from here.
  process.env.FAIRSCRIBE_TEST_STACK = JSON.stringify({
      root,
      databaseUrl: services.pg.url,
      redisUrl: services.redis.url,
      temporalAddress: services.temporal.address,
  });
  process.stderr.write(`\n[integration] services up in ${Date.now() - t0} ms under ${root}\n`);
}
