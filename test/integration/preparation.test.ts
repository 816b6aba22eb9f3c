/**
 * Audio preparation on the real stack (issue 18): the normalised PCM is streamed in blocks, never read
 * whole, so a job whose PCM is many times the configured read block (PCM_READ_BLOCK_SECONDS=1 here:
 * 64 KB against 3.6 MB) completes; a deterministic failure of preparation (audio that cannot be
 * decoded, audio that decodes past the tier's limit) fails the job with our code after exactly one
 * attempt — the Temporal history shows attempt 1 — instead of re-decoding five times.
 */
import * as crypto from 'node:crypto';
import * as fs from 'node:fs';
import * as os from 'node:os';
import * as path from 'node:path';
import { execFileSync } from 'node:child_process';
import { blobKeys } from '../../common/blobs';
import { TASK_QUEUES, workflowIdFor } from '../../common/constants';
import { DEFAULT_TIERS } from '../../common/tiers';
import { startTestApp, submitFile, waitForJob, type TestApp } from '../helpers/harness';
import { wer } from '../helpers/wer';

const AUDIO = path.resolve(__dirname, '../../../shared/audio');
/** free tier's duration limit here: the API refuses longer uploads, so preparation's own limit is tested by a direct start */
const FREE_MAX_AUDIO_S = 2;
const JFK_TEXT = 'And so my fellow Americans, ask not what your country can do for you, ask what you can do for your country.';

let app: TestApp;
let tmp: string;
let talk: string;

beforeAll(async () => {
  tmp = fs.mkdtempSync(path.join(os.tmpdir(), 'fs-prep-'));
  const tiers = structuredClone(DEFAULT_TIERS);
  tiers.free.maxAudioSeconds = FREE_MAX_AUDIO_S;
  const tiersFile = path.join(tmp, 'tiers.json');
  fs.writeFileSync(tiersFile, JSON.stringify(tiers));
  // jfk, 20 s of silence, jfk, 3 s, jfk: 56 s of 44.1 kHz stereo FLAC.
  talk = path.join(tmp, 'talk.flac');
  const jfk = path.join(AUDIO, 'jfk.flac');
  execFileSync('ffmpeg', [
    '-v', 'error', '-y', '-i', jfk, '-i', jfk, '-i', jfk,
    '-filter_complex', '[0:a]apad=pad_dur=20[a0];[1:a]apad=pad_dur=3[a1];[a0][a1][2:a]concat=n=3:v=0:a=1',
    talk,
  ]);
  app = await startTestApp({ PCM_READ_BLOCK_SECONDS: '1', FAIRSCRIBE_TIERS_FILE: tiersFile });
}, 120_000);

afterAll(async () => {
  await app?.stop();
  if (tmp) fs.rmSync(tmp, { recursive: true, force: true });
}, 60_000);

test('a job whose PCM is 56× the read block completes through the streaming path, silence removed', async () => {
  const { apiKey } = await app.user('premium');
  const res = await submitFile(app.url, apiKey, talk, { language: 'en', model: 'whisper-tiny.en' });
  expect(res.status).toBe(202);
  const { id } = (await res.json()) as { id: string };
  const job = await waitForJob(app.url, apiKey, id, 180_000);
  expect(job.status).toBe('completed');
  expect(job.audioSeconds).toBeCloseTo(56, 0);
  // Three times the sentence; the 20 s pause was not sent to inference nor billed.
  // tiny.en's wording varies a little with the batch ("asked not", "Ask not!"): word error rate, not the exact text.
  // Bound as longform.test.ts's per-sentence one (0.2): a sentence lost or doubled at a cut is 0.33.
  const errors = wer(Array(3).fill(JFK_TEXT).join(' '), job.text as string);
  expect({ errors: errors < 0.2, text: job.text }).toEqual({ errors: true, text: job.text });
  expect(job.billedSeconds).toBeLessThan(45);
  expect(job.progress.chunksTotal).toBeGreaterThanOrEqual(2);
}, 240_000);

/** Starts a job's workflow directly on an upload of our choosing (bypassing the API's probe, as a lying header would). */
async function startOn(upload: Buffer | string, tier: 'free' | 'premium') {
  const { userId } = await app.user(tier);
  const jobId = crypto.randomUUID();
  await app.pool.query(`INSERT INTO jobs (id, user_id, tier, model, options) VALUES ($1, $2, $3, 'whisper-tiny.en', '{}')`, [jobId, userId, tier]);
  const file = path.join(app.config.blobDir, blobKeys.upload(jobId));
  fs.mkdirSync(path.dirname(file), { recursive: true });
  if (typeof upload === 'string') fs.copyFileSync(upload, file);
  else fs.writeFileSync(file, upload);
  const handle = await app.api.temporal.workflow.start('transcriptionWorkflow', {
    workflowId: workflowIdFor(jobId),
    taskQueue: TASK_QUEUES.orchestration,
    args: [{ jobId, userId, tier, model: 'whisper-tiny.en', modelTier: 'economy', backend: 'cpu', language: 'en', task: 'transcribe', priorityClass: 'interactive' }],
  });
  await expect(handle.result()).rejects.toThrow();
  const { rows } = await app.pool.query(
    `SELECT status, json_build_object('code', error_code, 'message', error_message) AS error FROM jobs WHERE id = $1`,
    [jobId],
  );
  const history = await handle.fetchHistory();
  const started = (history.events ?? [])
    .filter((e) => e.activityTaskStartedEventAttributes)
    .map((e) => e.activityTaskStartedEventAttributes!);
  const scheduledPrepare = (history.events ?? []).filter((e) => e.activityTaskScheduledEventAttributes?.activityType?.name === 'prepareAudio').length;
  return { job: rows[0], history, started, scheduledPrepare, blobsLeft: fs.existsSync(path.join(app.config.blobDir, jobId)) };
}

/** The attempt number of prepareAudio's (last) start, from the workflow history. */
function prepareAttempts(r: Awaited<ReturnType<typeof startOn>>): number[] {
  const prepareIds = new Set(
    (r.history.events ?? [])
      .filter((e) => e.activityTaskScheduledEventAttributes?.activityType?.name === 'prepareAudio')
      .map((e) => String(e.eventId)),
  );
  return r.started.filter((s) => prepareIds.has(String(s.scheduledEventId))).map((s) => s.attempt ?? 0);
}

test('undecodable audio fails the job as unsupported_audio after one attempt', async () => {
  const r = await startOn(Buffer.from('this is a text file, not audio\n'.repeat(50)), 'premium');
  expect(r.job.status).toBe('failed');
  expect(r.job.error).toMatchObject({ code: 'unsupported_audio', message: expect.stringMatching(/^the (file|audio) /) });
  expect(r.job.error.message).not.toContain(app.config.blobDir);
  expect(r.scheduledPrepare).toBe(1);
  expect(prepareAttempts(r)).toEqual([1]);
  expect(r.blobsLeft).toBe(false);
}, 60_000);

test('audio that decodes past the tier’s limit fails as audio_too_long after one attempt', async () => {
  // free allows 2 s here, so preparation stops at 2 × 1.05 + 30 s of the 56 s.
  const r = await startOn(talk, 'free');
  expect(r.job.status).toBe('failed');
  expect(r.job.error).toMatchObject({ code: 'audio_too_long', message: expect.stringMatching(/over the limit/) });
  expect(prepareAttempts(r)).toEqual([1]);
  expect(r.blobsLeft).toBe(false);
}, 60_000);

test('a body damaged beyond its header: admitted (202), then failed as unsupported_audio after one attempt, fully refunded', async () => {
  // jfk.flac's header, first frames and last frames intact, 600 KB of noise between them: the
  // admission probe reads headers only (and finds frames at both ends), the full decode finds the damage.
  const flac = Buffer.from(fs.readFileSync(path.join(AUDIO, 'jfk.flac')));
  crypto.randomFillSync(flac, 200_000, 600_000);
  const { userId, apiKey } = await app.user('premium');
  const res = await submitFile(app.url, apiKey, { name: 'damaged.flac', data: flac }, { language: 'en', model: 'whisper-tiny.en' });
  expect(res.status).toBe(202);
  const { id } = (await res.json()) as { id: string };
  const job = await waitForJob(app.url, apiKey, id, 120_000);
  expect(job.status).toBe('failed');
  expect(job.error).toMatchObject({ code: 'unsupported_audio', message: expect.stringMatching(/^the audio (cannot be decoded|is damaged)/) });
  expect(job.error.message).not.toMatch(/0x[0-9a-f]{6,}|@|\//);
  // The whole reservation came back: nothing reserved or billed today, no slot held (ledger and Redis).
  const day = new Date().toISOString().slice(0, 10);
  expect(await app.deps.quota.usage(userId, day)).toEqual({ reservedSeconds: 0, billedSeconds: 0, activeJobs: 0 });
  expect(await app.deps.quota.counters(userId, day)).toEqual({ usedSeconds: 0, activeJobs: 0 });
  // One attempt: bad audio is not retried.
  const history = await app.api.temporal.workflow.getHandle(workflowIdFor(id)).fetchHistory();
  const prepare = (history.events ?? []).filter((e) => e.activityTaskScheduledEventAttributes?.activityType?.name === 'prepareAudio');
  const attempts = (history.events ?? [])
    .filter((e) => prepare.some((p) => String(p.eventId) === String(e.activityTaskStartedEventAttributes?.scheduledEventId)))
    .map((e) => e.activityTaskStartedEventAttributes!.attempt);
  expect({ scheduled: prepare.length, attempts }).toEqual({ scheduled: 1, attempts: [1] });
  expect(fs.existsSync(path.join(app.config.blobDir, id))).toBe(false);
}, 120_000);
