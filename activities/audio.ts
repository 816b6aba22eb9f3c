/**
 * Audio preparation on the orchestration queue: normalise with ffmpeg, find speech with Silero VAD (in the
 * VAD worker thread, block by block), plan ≤ 30 s chunks over the speech.
 */
import { ApplicationFailure, Context, log } from '@temporalio/activity';
import type { Pool } from 'pg';
import { BlobNotFoundError, blobKeys, type BlobStore } from '../common/blobs';
import type { PreparedAudio } from '../common/jobs';
import { planSpeechChunks } from '../audio/speech-spans';
import { decodeToPcm, readPcm, UnsupportedAudioError } from '../audio/ffmpeg';
import { SAMPLE_RATE } from '../engine/constants';
import { withChunkHashes } from '../audio/pcm-blob';
import { detectSpeech, pcmFileBlocks } from '../audio/vad-client';
import { observeVad } from '../common/metrics';

const HEARTBEAT_MS = 1_000;

export interface AudioDeps {
  blobs: BlobStore;
  pool: Pool;
}

export function createAudioActivities({ blobs }: AudioDeps) {
  return {
    /**
     * Decodes the upload to 16 kHz mono float32 (stored as a blob next to it) and plans the chunks.
     * Idempotent: a retry re-decodes into the same key.
     * @throws non-retryable ApplicationFailure `unsupported_audio` when ffmpeg cannot decode it
     */
    async prepareAudio({ jobId }: { jobId: string }): Promise<PreparedAudio> {
      let upload: string;
      try {
        upload = await blobs.fetch(blobKeys.upload(jobId));
      } catch (err) {
        if (err instanceof BlobNotFoundError) throw ApplicationFailure.nonRetryable(`audio of job ${jobId} is missing`, 'audio_missing');
        throw err;
      }
      const pcmFile = blobs.prepare(blobKeys.pcm(jobId));
      const ctx = Context.current();
      // Heartbeats carry cancellation to us; ffmpeg is killed on it and speech detection stops between
      // blocks, so the workflow's cleanup comes after. Both run off this thread, so the beat goes on.
      const beat = setInterval(() => ctx.heartbeat(), HEARTBEAT_MS);
      let vad: Awaited<ReturnType<typeof detectSpeech>>;
      try {
        await decodeToPcm(upload, pcmFile, ctx.cancellationSignal);
        if (ctx.cancellationSignal.aborted) throw ctx.cancellationSignal.reason;
        // Non-speech (silence, noise, music: whatever Silero VAD does not call speech) never reaches
        // inference, and is not billed. The VAD thread reads the PCM in blocks (an hour: ~110 k frames).
        vad = await detectSpeech(pcmFileBlocks(pcmFile), ctx.cancellationSignal);
        if (ctx.cancellationSignal.aborted) throw ctx.cancellationSignal.reason;
      } catch (err) {
        if (ctx.cancellationSignal.aborted) {
          await blobs.deleteJob(jobId);
          // Cancelled, whatever ffmpeg said when it was killed: Temporal records a cancellation only for
          // the CancelledFailure itself (any other error would fail the job instead of cancelling it).
          throw ctx.cancellationSignal.reason;
        }
        if (err instanceof UnsupportedAudioError) {
          // Our sentence goes to the job; ffmpeg's words (scrubbed) to the log only.
          log.warn('unsupported audio', { jobId, reason: err.message, detail: err.detail });
          throw ApplicationFailure.nonRetryable(err.message, 'unsupported_audio');
        }
        throw err;
      } finally {
        clearInterval(beat);
      }
      const planned = planSpeechChunks(vad.probs, vad.samples);
      const speechSeconds = planned.speechSeconds;
      observeVad({ seconds: vad.vadMs / 1000, audioSeconds: vad.samples / SAMPLE_RATE, speechSeconds });
      const samples = readPcm(pcmFile);
      const chunks = planned.chunks.map((c) => withChunkHashes(samples, c));
      // Publish the PCM for the inference workers (other machines with S3), then drop local copies.
      await blobs.commit(blobKeys.pcm(jobId));
      await blobs.dropLocal(jobId);
      return { audioSeconds: samples.length / SAMPLE_RATE, speechSeconds, chunks };
    },
  };
}
