/**
 * Chaos: Postgres goes away for 20 s while jobs run. The test app gets a Postgres of its own (the
 * shared one serves the other test files), stopped mid-run and started again on the same data
 * directory and port. Activities wait and retry; every job completes afterwards, and nothing is
 * written twice (each chunk stored and announced once, one end event and one charge per job).
 */
import * as fs from 'node:fs';
import * as os from 'node:os';
import * as path from 'node:path';
import { execFileSync } from 'node:child_process';
import { freePort, startPostgres, type PgHandle, type PostgresOptions } from '../../infra/services';
import { startTestApp, submitFile, type TestApp } from '../helpers/harness';
import { checkInvariants, report, sleep, until, waitForEnd } from '../helpers/chaos';

const AUDIO = path.resolve(__dirname, '../../../shared/audio');
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
  const file = path.join(tmp, 'jfk-x3.wav');
  execFileSync('ffmpeg', ['-v', 'error', '-y', '-stream_loop', '2', '-i', path.join(AUDIO, 'jfk.wav'), '-c:a', 'pcm_s16le', file]);
  const { apiKey } = await app.user('premium');
  const ids: string[] = [];
  for (let i = 0; i < JOBS; i++) {
    const res = await submitFile(app.url, apiKey, file, { model: 'whisper-tiny.en', language: 'en' });
    expect(res.status).toBe(202);
    ids.push(((await res.json()) as { id: string }).id);
  }
  // Pull the plug once work is under way but not done.
  await until(
    'the first chunk result',
    async () => (await app!.pool.query('SELECT count(*)::int AS n FROM chunk_results WHERE job_id = ANY($1::uuid[])', [ids])).rows[0].n > 0,
    180_000,
    100,
  );
  const { rows: before } = await app.pool.query(`SELECT count(*)::int AS n FROM jobs WHERE id = ANY($1::uuid[]) AND status = 'completed'`, [ids]);
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
    extra: `outage ${(outageMs / 1000).toFixed(1)} s, ${before[0].n} jobs had completed before it`,
  });
  expect(inv.problems).toEqual([]);
  expect(completed).toBe(JOBS);
  expect(before[0].n).toBeLessThan(JOBS); // the outage hit jobs in flight
  expect(inv.doubleCharges).toBe(0);
  expect(ends.map((r) => r.n)).toEqual(Array(JOBS).fill(1));
}, 540_000);
