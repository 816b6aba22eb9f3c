/** Audio preparation on the orchestration queue: normalise with ffmpeg, remove silence, plan ≤ 30 s chunks over the speech. */
import { ApplicationFailure, Context, log } from '@temporalio/activity';
import type { Pool } from 'pg';
import { BlobNotFoundError, blobKeys, type BlobStore } from '../common/blobs';
import { CHUNKS_PLANNED_SIGNAL, type Tier } from '../common/constants';
import type { PreparedAudio } from '../common/jobs';
import type { TierLimits } from '../common/tiers';
import { AudioTooLongError, UnsupportedAudioError } from '../audio/ffmpeg';
import { PlanPrefixError, preparePcm } from '../audio/prepare';
import { writeEarlyChunk } from '../audio/pcm-blob';
import type { ChunkSpan } from '../common/jobs';
import { SAMPLE_RATE } from '../engine/constants';
import { observeVad } from '../common/metrics';
import { cancelRequestedByWorkflow } from './heartbeat';

const HEARTBEAT_MS = 1_000;

export interface AudioDeps {
  blobs: BlobStore;
  pool: Pool;
  /** seconds of PCM per block in preparation's passes (config PCM_READ_BLOCK_SECONDS) */
  pcmBlockSeconds?: number;
  /** the tier table, for the decoded length's limit */
  tiers?: Record<Tier, TierLimits>;
  /** false: never announce chunks early, whatever the workflow asks (config PREPARE_ANNOUNCE_CHUNKS); default true */
  announceChunks?: boolean;
}

/**
 * The most samples a job of `tier` may decode to. The API refused the upload if its header said more
 * than the tier's maxAudioSeconds; the decode may run a little longer than the header (codec padding,
 * an estimated duration), so the limit here is 5 % + 30 s above, and only a header that lied by more
 * fails the job.
 */
export function maxDecodedSamples(tiers: Record<Tier, TierLimits> | undefined, tier: Tier | undefined): number {
  const limit = tier && tiers?.[tier]?.maxAudioSeconds;
  return limit ? Math.ceil((limit * 1.05 + 30) * SAMPLE_RATE) : Infinity;
}

/** Samples per block for preparation's passes, at least one 20 ms frame. */
export function pcmBlockSamples(seconds: number | undefined): number | undefined {
  return seconds === undefined ? undefined : Math.max(320, Math.round(seconds * SAMPLE_RATE));
}

/**
 * The failure of a preparation attempt: bad audio is deterministic (non-retryable, our code); anything
 * else (a disk, the blob store) is rethrown for Temporal to retry.
 */
export function preparationFailure(err: unknown, jobId: string): unknown {
  if (err instanceof UnsupportedAudioError) {
    // Our sentence goes to the job; ffmpeg's words (scrubbed) to the log only.
    log.warn('unsupported audio', { jobId, reason: err.message, detail: err.detail });
    return ApplicationFailure.nonRetryable(err.message, 'unsupported_audio');
  }
  if (err instanceof AudioTooLongError) return ApplicationFailure.nonRetryable(err.message, 'audio_too_long');
  return err;
}

/** prepareAudio's input. */
export interface PrepareAudioInput {
  jobId: string;
  tier?: Tier;
  /** signal the workflow up to this many chunks as the decode settles them (see prepareAudio); absent/0: none */
  announceChunks?: number;
  /** announce only when the header's duration is at most this (seconds): audio/prepare.ts announceIfSecondsAtMost */
  announceIfSecondsAtMost?: number;
}

/**
 * Wraps an announcement for a remote blob store: each chunk's audio is published as its own blob
 * (audio/pcm-blob.ts writeEarlyChunk, from the PCM file being written: the chunk's samples are in it) before the
 * chunk is announced, so an inference worker on another machine can read it before the PCM blob exists. At most
 * announceLimit chunks (16) of ≤ 30 s of speech each: ≤ 2 MB per chunk. A failed upload stops the announcements as
 * a failed signal does (the remaining chunks start after preparation, from the published PCM).
 */
function publishingEarlyChunks(
  blobs: BlobStore,
  jobId: string,
  pcmFile: string,
  signal: (chunks: ChunkSpan[]) => Promise<void>,
): (chunks: ChunkSpan[]) => Promise<void> {
  let failed = false;
  return async (chunks) => {
    if (failed) return;
    try {
      for (const c of chunks) await writeEarlyChunk(blobs, blobKeys.earlyChunk(jobId, c.index), pcmFile, c);
    } catch (err) {
      failed = true;
      log.warn('early chunk upload failed; the remaining chunks start after preparation', { error: String((err as Error)?.message ?? err) });
      return;
    }
    await signal(chunks);
  };
}

/**
 * Signals the running activity's workflow with chunks planned early, through the worker's own Temporal client
 * (Context.client). Without one (Temporal's MockActivityEnvironment) it announces nothing.
 */
function announcer(ctx: Context): ((chunks: ChunkSpan[]) => Promise<void>) | null {
  let client;
  try {
    client = ctx.client;
  } catch {
    return null;
  }
  const execution = ctx.info.workflowExecution;
  if (!execution) return null;
  const handle = client.workflow.getHandle(execution.workflowId, execution.runId);
  // Announcing is an optimisation: a signal that fails (Temporal unreachable for a moment) stops the announcements and
  // the workflow starts the remaining chunks from the activity's result, as without them; preparation goes on.
  let failed = false;
  return async (chunks) => {
    if (failed) return;
    try {
      await handle.signal(CHUNKS_PLANNED_SIGNAL, { chunks });
    } catch (err) {
      failed = true;
      log.warn('chunk announcement failed; the remaining chunks start after preparation', { error: String((err as Error)?.message ?? err) });
    }
  };
}

export function createAudioActivities({ blobs, pcmBlockSeconds, tiers, announceChunks: announceAllowed = true }: AudioDeps) {
  return {
    /**
     * Decodes the upload to 16 kHz mono float32 (stored as a blob next to it) and plans the chunks, in
     * bounded memory (audio/prepare.ts). Idempotent: a retry re-decodes into the same key.
     * With `announceChunks` (workflows/transcription.ts, chunks started while preparing), the first chunks the
     * decoded prefix settles (audio/prepare.ts sureChunksOfPrefix) are signalled to the calling workflow
     * ({@link CHUNKS_PLANNED_SIGNAL}, spans and hashes only) while the rest of the file is decoded, so inference
     * starts before preparation ends. With a local blob store the PCM file is the blob, and an announced chunk's
     * bytes are in it; an S3 store publishes the PCM only at the end (commit), so each announced chunk's audio is
     * published first as a blob of its own (blobKeys.earlyChunk, read by the inference worker while the PCM blob is
     * not there yet: audio/pcm-blob.ts readChunkAudio).
     * A retry announces the same chunks again (the workflow keeps the first of each index and checks the rest).
     * @throws non-retryable ApplicationFailure `unsupported_audio` when ffmpeg cannot decode it,
     *   `audio_too_long` when it decodes to more than the tier allows, `audio_missing` without an upload,
     *   `internal` when an announced chunk differs from the whole file's plan (PlanPrefixError: a planner rule
     *   that is not prefix-stable; the chunks already started ran on the announced spans)
     */
    async prepareAudio({ jobId, tier, announceChunks, announceIfSecondsAtMost }: PrepareAudioInput): Promise<PreparedAudio> {
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
      let prepared;
      try {
        // Non-speech (silence, noise, music: whatever Silero VAD does not call speech) never reaches
        // inference, and is not billed.
        const signal = announceAllowed && announceChunks && announceChunks > 0 ? announcer(ctx) : null;
        const announce = signal && blobs.kind !== 'local' ? publishingEarlyChunks(blobs, jobId, pcmFile, signal) : signal;
        prepared = await preparePcm(upload, pcmFile, {
          signal: ctx.cancellationSignal,
          blockSamples: pcmBlockSamples(pcmBlockSeconds),
          maxSamples: maxDecodedSamples(tiers, tier),
          ...(announce ? { onChunks: announce, announceLimit: announceChunks, announceIfSecondsAtMost } : {}),
        });
        if (ctx.cancellationSignal.aborted) throw ctx.cancellationSignal.reason;
      } catch (err) {
        if (err instanceof PlanPrefixError) throw ApplicationFailure.nonRetryable(`chunk planning failed: ${err.message}`, 'internal');
        if (ctx.cancellationSignal.aborted) {
          // A cancelled job's files go now (ffmpeg may have written after the workflow's own cleanup
          // began); an abandoned attempt's stay for its retry.
          if (cancelRequestedByWorkflow(ctx)) await blobs.deleteJob(jobId);
          // Cancelled, whatever ffmpeg said when it was killed: Temporal records a cancellation only for
          // the CancelledFailure itself (any other error would fail the job instead of cancelling it).
          throw ctx.cancellationSignal.reason;
        }
        throw preparationFailure(err, jobId);
      } finally {
        clearInterval(beat);
      }
      // Publish the PCM for the inference workers (other machines with S3), then drop local copies.
      await blobs.commit(blobKeys.pcm(jobId));
      await blobs.dropLocal(jobId);
      observeVad({ seconds: prepared.vadMs / 1000, audioSeconds: prepared.samples / SAMPLE_RATE, speechSeconds: prepared.speechSeconds });
      return { audioSeconds: prepared.samples / SAMPLE_RATE, speechSeconds: prepared.speechSeconds, chunks: prepared.chunks };
    },
  };
}
