/**
 * The scheduling properties of test/integration/scheduling.test.ts, unchanged, on the production-shaped cluster:
 * Temporal Server 1.29.1 itself on PostgreSQL (fairness tasks in its `tasks_v2` table), the dynamic config of
 * infra/k8s/temporal-values.yaml with every task queue on one partition (the rigs' queues included, as the dev
 * server's global setting gives them).
 */
import * as fs from 'node:fs';
import * as os from 'node:os';
import * as path from 'node:path';
import { startCluster, type Cluster } from '../../infra/cluster';

let cluster: Cluster;
beforeAll(async () => {
  cluster = await startCluster({
    root: fs.mkdtempSync(path.join(os.tmpdir(), 'fs-cluster-sched-')),
    ports: 'free',
    fast: true,
    partitions: 1,
    pinAllQueues: true,
  });
  // test/helpers/harness.ts stackInfo(): the scheduling rigs connect to this Temporal.
  process.env.FAIRSCRIBE_TEST_STACK = JSON.stringify({
    root: cluster.root,
    databaseUrl: cluster.databaseUrl,
    redisUrl: cluster.redisUrl,
    temporalAddress: cluster.temporalAddress,
  });
}, 600_000);
afterAll(async () => {
  await cluster?.stop();
  if (cluster) fs.rmSync(cluster.root, { recursive: true, force: true });
}, 120_000);

// eslint-disable-next-line @typescript-eslint/no-require-imports
require('../integration/scheduling.test');
