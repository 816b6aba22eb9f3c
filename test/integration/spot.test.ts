/**
 * Spot capacity that fails or goes away: a chunk that keeps failing on gpu-spot moves to the tier's
 * fallback backend (recorded in `fallbacks`); a spot worker told SIGTERM stops polling, finishes its
 * chunk and exits 0, and nothing is lost or charged twice.
 */
import * as fs from 'node:fs';
import * as os from 'node:os';
import * as path from 'node:path';
import { spawn, execFileSync } from 'node:child_process';
import { appProcessEnv, startTestApp, submitFile, waitForJob, type TestApp } from '../helpers/harness';
import { wer } from '../helpers/wer';
import { brokenModelsDir } from '../helpers/models';

const ROOT = path.resolve(__dirname, '../..');
const AUDIO = path.resolve(ROOT, '../shared/audio');
const JFK_REFERENCE =
  'And so my fellow Americans, ask not what your country can do for you, ask what you can do for your country.';

let tmp: string;
beforeAll(() => {
  tmp = fs.mkdtempSync(path.join(os.tmpdir(), 'fs-spot-'));
});
afterAll(() => fs.rmSync(tmp, { recursive: true, force: true }));


describe('a chunk that keeps failing on spot', () => {
  let app: TestApp;
  beforeAll(async () => {
    app = await startTestApp({}, { extraWorkers: [{ backend: 'gpu-spot', env: { WHISPER_MODELS_DIR: brokenModelsDir(tmp) } }] });
  }, 120_000);
  afterAll(() => app?.stop(), 60_000);

  test('moves to the tier fallback (cpu for free) after SPOT_ATTEMPTS failures and completes', async () => {
    const { apiKey } = await app.user('free');
    // Free, balanced, short file, both queues polled: the router picks gpu-spot (see backends.test.ts).
    const res = await submitFile(app.url, apiKey, path.join(AUDIO, 'jfk.wav'));
    expect(res.status).toBe(202);
    const job = await waitForJob(app.url, apiKey, ((await res.json()) as { id: string }).id, 90_000);
    expect(job.backend).toBe('gpu-spot');
    expect(job.status).toBe('completed');
    expect(wer(JFK_REFERENCE, job.text)).toBeLessThanOrEqual(0.1);
    expect(job.fallbacks).toEqual([{ chunk: 0, from: 'gpu-spot', to: 'cpu', reason: expect.stringMatching(/inference failed/) }]);
    const ledger = await app.pool.query(`SELECT kind, seconds FROM usage_ledger WHERE job_id = $1 ORDER BY kind`, [job.id]);
    expect(ledger.rows).toEqual([
      { kind: 'charge', seconds: 11 },
      { kind: 'refund', seconds: 0 },
      { kind: 'reserve', seconds: 11 },
    ]);
  }, 120_000);
});

describe('SIGTERM on a spot worker', () => {
  let app: TestApp;
  beforeAll(async () => {
    app = await startTestApp();
  }, 120_000);
  afterAll(() => app?.stop(), 60_000);

  function spawnSpotWorker(logFile: string) {
    const child = spawn(path.join(ROOT, 'node_modules/.bin/tsx'), [path.join(ROOT, 'workers/gpu-spot.ts')], {
      env: {
        ...appProcessEnv(app),
        WHISPER_EP: 'cpu',
        DRAIN_DEADLINE_S: '60',
      },
      stdio: ['ignore', fs.openSync(logFile, 'a'), fs.openSync(logFile, 'a')],
    });
    return child;
  }

  test('drains its in-flight chunk, exits 0; the job completes with each chunk once and one charge', async () => {
    // Stop the in-process CPU worker so that only spot workers serve this job's chunks.
    const cpu = app.workers[1];
    await cpu.stop();
    const long = path.join(tmp, 'long.wav');
    execFileSync('ffmpeg', ['-v', 'error', '-y', '-stream_loop', '5', '-i', path.join(AUDIO, 'jfk.wav'), '-c:a', 'pcm_s16le', long]);
    const log = path.join(tmp, 'spot.log');
    const first = spawnSpotWorker(log);
    const { apiKey } = await app.user('free');
    // Only the spot queue has pollers once the first worker is up; wait for the router to see it. The
    // worker's start (tsx, two models) takes 5–10 s on a busy machine, so wait for its "polling" line,
    // then for Temporal's DescribeTaskQueue stats (cached ~5 s server-side).
    const up = Date.now() + 60_000;
    while (Date.now() < up && !fs.readFileSync(log, 'utf8').includes('worker polling')) await new Promise((r) => setTimeout(r, 200));
    await new Promise((r) => setTimeout(r, 6_000));
    const res = await submitFile(app.url, apiKey, long);
    const id = ((await res.json()) as { id: string }).id;
    // Interrupt once the first chunk is running.
    const deadline = Date.now() + 60_000;
    while (Date.now() < deadline) {
      const { rows } = await app.pool.query(`SELECT status FROM jobs WHERE id = $1`, [id]);
      if (rows[0]?.status === 'running') break;
      await new Promise((r) => setTimeout(r, 100));
    }
    const t0 = Date.now();
    first.kill('SIGTERM');
    const code = await new Promise<number | null>((resolve) => first.on('exit', (c) => resolve(c)));
    const drainMs = Date.now() - t0;
    expect(code).toBe(0);
    const doneAtExit = (await app.pool.query('SELECT count(*)::int AS n FROM chunk_results WHERE job_id = $1', [id])).rows[0].n;
    expect(doneAtExit).toBeGreaterThanOrEqual(1); // the in-flight chunk was finished, not dropped
    // A replacement spot worker picks up the rest.
    const second = spawnSpotWorker(log);
    try {
      const job = await waitForJob(app.url, apiKey, id, 120_000);
      expect(job.status).toBe('completed');
      expect(job.backend).toBe('gpu-spot');
      const chunks = await app.pool.query('SELECT chunk_index FROM chunk_results WHERE job_id = $1 ORDER BY chunk_index', [id]);
      expect(chunks.rows.map((r) => r.chunk_index)).toEqual([...Array(job.progress.chunksTotal).keys()]);
      const charges = await app.pool.query(`SELECT count(*)::int AS n FROM usage_ledger WHERE job_id = $1 AND kind = 'charge'`, [id]);
      expect(charges.rows[0].n).toBe(1);
      process.stderr.write(`[spot] drain took ${drainMs} ms; ${doneAtExit} chunk(s) stored at exit, ${job.progress.chunksTotal} in all\n`);
    } finally {
      second.kill('SIGTERM');
      await new Promise((resolve) => second.on('exit', resolve));
    }
  }, 240_000);
});
