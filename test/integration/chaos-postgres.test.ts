/**
 * Chaos: Postgres goes away for 20 s while jobs run. The test app gets a Postgres of its own (the
 * shared one serves the other test files), stopped mid-run and started again on the same data
 * directory and port. Activities wait and retry; every job completes afterwards, and nothing is
 * written twice (each chunk stored and announced once, one end event and one charge per job).
 */
import * as fs from 'node:fs';
import * as os from 'node:os';
import * as path from 'node:path';
import { freePort, startPostgres, type PgHandle, type PostgresOptions } from '../../infra/services';
import { startTestApp, type TestApp } from '../helpers/harness';
import { checkInvariants, report, sleep, submitUntilUnderWay, waitForEnd } from '../helpers/chaos';

const JOBS = 6;
const OUTAGE_MS = 20_000;

let app: TestApp | undefined;
let pg: PgHandle | undefined;
let tmp: string;

afterAll(async () => {
  await app?.stop();
  await pg?.stop();
  if (tmp) fs.rmSync(tmp, { recursive: true, force: true });
}, 90_000);

test('Postgres down for 20 s mid-run: activities retry, every job completes, nothing written twice', async () => {
  const t0 = Date.now();
  tmp = fs.mkdtempSync(path.join(os.tmpdir(), 'fs-chaos-pg-'));
  const pgOptions: PostgresOptions = { dataDir: path.join(tmp, 'pg'), port: await freePort(), database: 'chaos', fast: true, logDir: tmp };
  pg = await startPostgres(pgOptions);
  app = await startTestApp({ DATABASE_URL: pg.url });
  // Pull the plug once work is under way but not done.
  const { ids, completedBefore } = await submitUntilUnderWay(app, tmp, JOBS);
  const down = Date.now();
  await pg.stop();
  await sleep(OUTAGE_MS);
  pg = await startPostgres(pgOptions);
  const outageMs = Date.now() - down;

  const statuses = await waitForEnd(app, ids, 300_000);
  const completed = [...statuses.values()].filter((s) => s === 'completed').length;
  const inv = await checkInvariants(app, app.api.temporal, statuses);
  const { rows: ends } = await app.pool.query(
    `SELECT job_id, count(*)::int AS n FROM job_events WHERE job_id = ANY($1::uuid[]) AND type IN ('completed', 'failed', 'cancelled') GROUP BY 1`,
    [ids],
  );
  report('Postgres down 20 s', {
    submitted: JOBS,
    completed,
    lost: JOBS - completed,
    chunksRetried: inv.chunksRetried,
    doubleCharges: inv.doubleCharges,
    wallMs: Date.now() - t0,
    extra: `outage ${(outageMs / 1000).toFixed(1)} s, ${completedBefore} jobs had completed before it`,
  });
  expect(inv.problems).toEqual([]);
  expect(completed).toBe(JOBS);
  expect(completedBefore).toBeLessThan(JOBS); // the outage hit jobs in flight
  expect(inv.doubleCharges).toBe(0);
  expect(ends.map((r) => r.n)).toEqual(Array(JOBS).fill(1));
}, 540_000);
