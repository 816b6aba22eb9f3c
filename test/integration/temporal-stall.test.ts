/**
 * A Temporal server that stops answering (paused with SIGSTOP: a wedged or overloaded frontend) must not hold
 * POST /v1/jobs open: admission asks DescribeTaskQueue before it starts the job's workflow, and a server that does
 * not answer within api/queue-stats.ts DESCRIBE_DEADLINE_MS gets the caller a 503 `unavailable` with Retry-After,
 * before any row or reservation exists (a new user's check held the request for over 120 s, then admitted the job).
 * Once the server answers again, jobs run. The server is the integration run's shared one: the test resumes it in a
 * `finally`, and runs in band (infra/test.sh).
 */
import { execFileSync } from 'node:child_process';
import * as path from 'node:path';
import { fileApp } from '../helpers/file-app';
import { submitFile, waitForJob } from '../helpers/harness';

const JFK = path.resolve(__dirname, '../../../shared/audio/jfk.wav');
const env = fileApp('fs-temporal-stall-');

/** The pid of the process listening on the test stack's Temporal frontend port (ss, iproute2). */
function temporalPid(): number {
  const address = (JSON.parse(process.env.FAIRSCRIBE_TEST_STACK!) as { temporalAddress: string }).temporalAddress;
  const port = address.slice(address.lastIndexOf(':') + 1);
  const out = execFileSync('ss', ['-Hltnp', `sport = :${port}`]).toString();
  const pid = /pid=(\d+)/.exec(out)?.[1];
  if (!pid) throw new Error(`no listener on ${address}: ${out}`);
  return Number(pid);
}

test('Temporal paused: POST /v1/jobs answers 503 unavailable within seconds, with Retry-After, and admits nothing; resumed, jobs run', async () => {
  const { apiKey, userId } = await env.app.user('standard');
  const jobs = async () => Number((await env.app.pool.query('SELECT count(*) FROM jobs WHERE user_id = $1', [userId])).rows[0].count);
  const pid = temporalPid();
  process.kill(pid, 'SIGSTOP');
  // whatever happens below, the shared server answers again within 20 s (the files after this one need it)
  const safety = setTimeout(() => process.kill(pid, 'SIGCONT'), 20_000);
  let res: Response;
  let elapsed: number;
  try {
    const t0 = Date.now();
    res = await submitFile(env.app.url, apiKey, JFK, { model: 'whisper-tiny.en' });
    elapsed = Date.now() - t0;
  } finally {
    clearTimeout(safety);
    process.kill(pid, 'SIGCONT');
  }
  const body = (await res.json()) as { error?: { code: string; message: string } };
  process.stderr.write(`[temporal-stall] ${res.status} ${JSON.stringify(body)} after ${elapsed} ms\n`);
  expect(res.status).toBe(503);
  expect(body.error?.code).toBe('unavailable');
  expect(body.error?.message).toMatch(/could not be started; try again/);
  expect(Number(res.headers.get('retry-after'))).toBeGreaterThan(0);
  expect(elapsed).toBeLessThan(18_000);
  expect(await jobs()).toBe(0);
  expect(await env.app.deps.quota.counters(userId, new Date().toISOString().slice(0, 10))).toEqual({ usedSeconds: 0, activeJobs: 0 });

  // answering again: the next job is admitted and completes (the failed stats were not cached)
  const again = await submitFile(env.app.url, apiKey, JFK, { model: 'whisper-tiny.en' });
  expect(again.status).toBe(202);
  const job = await waitForJob(env.app.url, apiKey, ((await again.json()) as { id: string }).id, 60_000);
  expect(job.status).toBe('completed');
}, 90_000);
