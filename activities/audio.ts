/** Audio preparation on the orchestration queue: normalise with ffmpeg, then plan ≤ 30 s chunks. */
import { ApplicationFailure, Context } from '@temporalio/activity';
import type { Pool } from 'pg';
import { BlobNotFoundError, blobKeys, type BlobStore } from '../common/blobs';
import type { PreparedAudio } from '../common/jobs';
import { isSilent, planChunks } from '../audio/chunk-plan';
import { decodeToPcm, readPcm, UnsupportedAudioError } from '../audio/ffmpeg';
import { SAMPLE_RATE } from '../engine/constants';
import { chunkSha256 } from '../audio/pcm-blob';

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
      // Heartbeats carry cancellation to us; ffmpeg is killed on it, so the workflow's cleanup comes after.
      const beat = setInterval(() => ctx.heartbeat(), HEARTBEAT_MS);
      try {
        await decodeToPcm(upload, pcmFile, ctx.cancellationSignal);
        if (ctx.cancellationSignal.aborted) throw ctx.cancellationSignal.reason;
      } catch (err) {
        if (ctx.cancellationSignal.aborted) {
          await blobs.deleteJob(jobId);
          throw err;
        }
        if (err instanceof UnsupportedAudioError) {
          throw ApplicationFailure.nonRetryable(err.message, 'unsupported_audio');
        }
        throw err;
      } finally {
        clearInterval(beat);
      }
      const samples = readPcm(pcmFile);
      // Chunks without speech are not sent to inference, so they are neither transcribed nor billed.
      const chunks = planChunks(samples)
        .filter((c) => !isSilent(samples.subarray(Math.round(c.start * SAMPLE_RATE), Math.round(c.end * SAMPLE_RATE))))
        .map((c) => ({ ...c, sha256: chunkSha256(samples, c) }));
      // Publish the PCM for the inference workers (other machines with S3), then drop local copies.
      await blobs.commit(blobKeys.pcm(jobId));
      await blobs.dropLocal(jobId);
      const speechSeconds = chunks.reduce((sum, c) => sum + (c.end - c.start), 0);
      return { audioSeconds: samples.length / SAMPLE_RATE, speechSeconds, chunks };
    },
  };
}
