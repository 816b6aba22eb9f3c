/**
 * Chaos: 10 long-running jobs cancelled at random moments (seeded, so a failure replays). A job whose
 * cancel was accepted (202) ends `cancelled` (or `completed`, charged once, when the cancel came while it
 * was already settling); one that truly ended first answers 409 `not_cancellable` and stays
 * `completed`. Either way no reservation is left and no blob outlives the job.
 */
import * as path from 'node:path';
import { execFileSync } from 'node:child_process';
import { submitFile } from '../helpers/harness';
import { fileApp } from '../helpers/file-app';
import { mulberry32 } from '../helpers/prng';
import { checkInvariants, report, sleep, waitForEnd } from '../helpers/chaos';

const AUDIO = path.resolve(__dirname, '../../../shared/audio');
const JOBS = 10;
/** jfk six times (~66 s, 3 chunks): long enough that most cancels land while it runs */
const REPEATS = 6;
/**
 * Cancels land uniformly in [0, this) after each job's admission: about a job's run time here, so some
 * land while it runs and some after it ended (the 409 path).
 */
const WINDOW_MS = 60_000;
const SEED = Number(process.env.CHAOS_SEED ?? 7);

const env = fileApp('fs-chaos-cancel-');

test('10 jobs cancelled at random moments: cancelled (or completed + 409), nothing reserved, no blobs', async () => {
  const t0 = Date.now();
  const file = path.join(env.tmp, 'jfk-x6.wav');
  execFileSync('ffmpeg', ['-v', 'error', '-y', '-stream_loop', String(REPEATS - 1), '-i', path.join(AUDIO, 'jfk.wav'), '-c:a', 'pcm_s16le', file]);
  const { apiKey } = await env.app.user('premium');
  const random = mulberry32(SEED);
  const delays = Array.from({ length: JOBS }, () => Math.floor(random() * WINDOW_MS));
  process.stderr.write(`[chaos] cancel seed ${SEED}: delays ${delays.join(', ')} ms\n`);

  const outcomes = await Promise.all(
    delays.map(async (delay) => {
      const res = await submitFile(env.app.url, apiKey, file, { model: 'whisper-tiny.en', language: 'en' });
      expect(res.status).toBe(202);
      const { id } = (await res.json()) as { id: string };
      await sleep(delay);
      const cancel = await fetch(`${env.app.url}/v1/jobs/${id}/cancel`, { method: 'POST', headers: { authorization: `Bearer ${apiKey}` } });
      const body = (await cancel.json()) as { error?: { code: string } };
      return { id, delay, status: cancel.status, code: body.error?.code ?? null };
    }),
  );
  const statuses = await waitForEnd(env.app, outcomes.map((o) => o.id), 240_000);
  const inv = await checkInvariants(env.app, env.app.api.temporal, statuses);
  const cancelled = outcomes.filter((o) => statuses.get(o.id) === 'cancelled').length;
  const completed = outcomes.filter((o) => statuses.get(o.id) === 'completed').length;
  report('cancel at random moments', {
    submitted: JOBS,
    completed,
    lost: JOBS - completed - cancelled,
    chunksRetried: inv.chunksRetried,
    doubleCharges: inv.doubleCharges,
    wallMs: Date.now() - t0,
    extra: `${cancelled} cancelled, ${completed} completed (${outcomes.filter((o) => o.status === 409).length} of them answered 409: ended first)`,
  });
  for (const o of outcomes) {
    const end = statuses.get(o.id);
    // A cancel accepted while the job was already finishing (every chunk stored, settling) lets it
    // complete: the finish is not cut in half (workflows/transcription.ts, point of no return).
    const expected =
      o.status === 202
        ? { status: 202, code: null, end: end === 'completed' ? 'completed' : 'cancelled' }
        : { status: 409, code: 'not_cancellable', end: 'completed' };
    expect({ id: o.id, delay: o.delay, status: o.status, code: o.code, end }).toEqual({ id: o.id, delay: o.delay, ...expected });
  }
  expect(inv.problems).toEqual([]);
  expect(inv.doubleCharges).toBe(0);
  expect(cancelled).toBeGreaterThan(0);
}, 420_000);
