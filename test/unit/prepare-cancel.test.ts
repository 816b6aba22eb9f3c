/**
 * prepareAudio stopped mid-decode (real ffmpeg, real Silero VAD, Temporal's MockActivityEnvironment for the
 * activity context): the workflow's cancellation discards the job's files; an attempt that Temporal
 * abandons (timed out, not found) keeps the upload, so the retry that follows can still decode it. Before,
 * every abandoned attempt deleted the upload and its retry failed `audio_missing` (activities/heartbeat.ts
 * cancelRequestedByWorkflow).
 */
import { execFileSync } from 'node:child_process';
import * as fs from 'node:fs';
import * as os from 'node:os';
import * as path from 'node:path';
import { ActivityCancellationDetails, CancelledFailure } from '@temporalio/common';
import { MockActivityEnvironment } from '@temporalio/testing';
import { createAudioActivities } from '../../activities/audio';
import { blobKeys, LocalBlobStore } from '../../common/blobs';
import { VadThread } from '../../audio/vad-client';

const AUDIO = path.resolve(__dirname, '../../../shared/audio');
let dir: string;
let longFlac: string;

beforeAll(() => {
  dir = fs.mkdtempSync(path.join(os.tmpdir(), 'prepare-cancel-'));
  longFlac = path.join(dir, 'long.flac');
  // 20 minutes of jfk: several seconds of decoding and VAD, time enough to stop it half-way.
  execFileSync('ffmpeg', ['-v', 'error', '-stream_loop', '109', '-i', path.join(AUDIO, 'jfk.flac'), '-ac', '1', '-ar', '16000', longFlac]);
});
afterAll(async () => {
  fs.rmSync(dir, { recursive: true, force: true });
  await VadThread.closeShared();
});

async function stoppedAttempt(details: ActivityCancellationDetails, reason: 'CANCELLED' | 'TIMED_OUT' | 'NOT_FOUND') {
  const blobs = new LocalBlobStore(path.join(dir, `blobs-${reason}`));
  const jobId = `job-${reason.toLowerCase()}`;
  fs.copyFileSync(longFlac, blobs.prepare(blobKeys.upload(jobId)));
  const env = new MockActivityEnvironment();
  const activities = createAudioActivities({ blobs, pool: undefined as never });
  const run = env.run(activities.prepareAudio, { jobId });
  setTimeout(() => env.cancel(reason, details), 400);
  await expect(run).rejects.toBeInstanceOf(CancelledFailure);
  return { upload: await blobs.exists(blobKeys.upload(jobId)), folder: fs.existsSync(blobs.pathFor(jobId)) };
}

test('the workflow cancelled the job: the upload and the partial PCM go', async () => {
  expect(await stoppedAttempt(new ActivityCancellationDetails({ cancelRequested: true }), 'CANCELLED')).toEqual({ upload: false, folder: false });
}, 60_000);

test('an attempt that timed out keeps the upload for its retry', async () => {
  expect(await stoppedAttempt(new ActivityCancellationDetails({ timedOut: true }), 'TIMED_OUT')).toEqual({ upload: true, folder: true });
}, 60_000);

test('an attempt the server no longer knows keeps the upload', async () => {
  expect(await stoppedAttempt(new ActivityCancellationDetails({ notFound: true }), 'NOT_FOUND')).toEqual({ upload: true, folder: true });
}, 60_000);
