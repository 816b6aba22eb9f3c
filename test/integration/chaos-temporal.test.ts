/**
 * Chaos: the Temporal dev server restarts mid-run on the same SQLite file. The test app talks to a
 * Temporal server of its own (the shared one serves the other test files); its workers and API
 * client reconnect, and every job completes with each chunk once and one charge.
 */
import * as fs from 'node:fs';
import * as os from 'node:os';
import * as path from 'node:path';
import { freePort, startTemporal, type TemporalHandle, type TemporalOptions } from '../../infra/services';
import { startTestApp, type TestApp } from '../helpers/harness';
import { checkInvariants, report, submitUntilUnderWay, waitForEnd } from '../helpers/chaos';

const JOBS = 6;

let app: TestApp | undefined;
let temporal: TemporalHandle | undefined;
let tmp: string;

afterAll(async () => {
  await app?.stop();
  await temporal?.stop();
  if (tmp) fs.rmSync(tmp, { recursive: true, force: true });
}, 90_000);

test('the Temporal server restarted (same SQLite file) mid-run: every job completes', async () => {
  const t0 = Date.now();
  tmp = fs.mkdtempSync(path.join(os.tmpdir(), 'fs-chaos-temporal-'));
  const options: TemporalOptions = { port: await freePort(), dbFile: path.join(tmp, 'temporal.db'), logDir: tmp };
  temporal = await startTemporal(options);
  app = await startTestApp({ TEMPORAL_ADDRESS: temporal.address, TEMPORAL_NAMESPACE: temporal.namespace });
  const { ids, completedBefore } = await submitUntilUnderWay(app, tmp, JOBS);
  const down = Date.now();
  await temporal.stop();
  temporal = await startTemporal(options);
  const restartMs = Date.now() - down;

  const statuses = await waitForEnd(app, ids, 300_000);
  const completed = [...statuses.values()].filter((s) => s === 'completed').length;
  const inv = await checkInvariants(app, app.api.temporal, statuses);
  report('Temporal restarted', {
    submitted: JOBS,
    completed,
    lost: JOBS - completed,
    chunksRetried: inv.chunksRetried,
    doubleCharges: inv.doubleCharges,
    wallMs: Date.now() - t0,
    extra: `server down ${(restartMs / 1000).toFixed(1)} s, ${completedBefore} jobs had completed before it`,
  });
  expect(inv.problems).toEqual([]);
  expect(completed).toBe(JOBS);
  expect(completedBefore).toBeLessThan(JOBS);
  expect(inv.doubleCharges).toBe(0);
}, 540_000);
