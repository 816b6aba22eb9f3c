/**
 * Chaos: the Temporal dev server restarts mid-run on the same SQLite file. The test app talks to a
 * Temporal server of its own (the shared one serves the other test files); its workers and API
 * client reconnect, and every job completes with each chunk once and one charge.
 */
import * as fs from 'node:fs';
import * as os from 'node:os';
import * as path from 'node:path';
import { execFileSync } from 'node:child_process';
import { freePort, startTemporal, type TemporalHandle, type TemporalOptions } from '../../infra/services';
import { startTestApp, submitFile, type TestApp } from '../helpers/harness';
import { checkInvariants, report, until, waitForEnd } from '../helpers/chaos';

const AUDIO = path.resolve(__dirname, '../../../shared/audio');
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
  const file = path.join(tmp, 'jfk-x3.wav');
  execFileSync('ffmpeg', ['-v', 'error', '-y', '-stream_loop', '2', '-i', path.join(AUDIO, 'jfk.wav'), '-c:a', 'pcm_s16le', file]);
  const { apiKey } = await app.user('premium');
  const ids: string[] = [];
  for (let i = 0; i < JOBS; i++) {
    const res = await submitFile(app.url, apiKey, file, { model: 'whisper-tiny.en', language: 'en' });
    expect(res.status).toBe(202);
    ids.push(((await res.json()) as { id: string }).id);
  }
  await until(
    'the first chunk result',
    async () => (await app!.pool.query('SELECT count(*)::int AS n FROM chunk_results WHERE job_id = ANY($1::uuid[])', [ids])).rows[0].n > 0,
    180_000,
    100,
  );
  const { rows: before } = await app.pool.query(`SELECT count(*)::int AS n FROM jobs WHERE id = ANY($1::uuid[]) AND status = 'completed'`, [ids]);
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
    extra: `server down ${(restartMs / 1000).toFixed(1)} s, ${before[0].n} jobs had completed before it`,
  });
  expect(inv.problems).toEqual([]);
  expect(completed).toBe(JOBS);
  expect(before[0].n).toBeLessThan(JOBS);
  expect(inv.doubleCharges).toBe(0);
}, 540_000);
