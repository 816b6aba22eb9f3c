/**
 * multichannel=true (orchestration queue): each channel of the upload decoded and planned on its own,
 * and its chunks' results merged into the job's `channels` [{channel, text, segments}]. Chunk indices
 * are `channel * CHANNEL_CHUNK_STRIDE + i`, so chunk_results, progress and retries work unchanged.
 * The job's `segments` are every channel's segments in time order, each with its `channel`.
 */
import { ApplicationFailure, Context } from '@temporalio/activity';
import type { Pool } from 'pg';
import { BlobNotFoundError, blobKeys, type BlobStore } from '../common/blobs';
import { observeVad } from '../common/metrics';
import { completeJob } from './storage';
import type { PreparedAudio } from '../common/jobs';
import { channelFilter } from '../audio/channels';
import { preparePcm } from '../audio/prepare';
import type { Tier } from '../common/constants';
import type { JobLanguages } from '../common/window-languages';
import type { TierLimits } from '../common/tiers';
import { maxDecodedSamples, pcmBlockSamples, preparationFailure } from './audio';
import { cancelRequestedByWorkflow } from './heartbeat';
import { mergeChunkSegments, transcriptText, type TranscriptSegment } from '../audio/transcript';
import { SAMPLE_RATE } from '../engine/constants';

/** Chunk index = channel × stride + the chunk's index within its channel. */
export const CHANNEL_CHUNK_STRIDE = 100_000;
const HEARTBEAT_MS = 1_000;

export interface ChannelsDeps {
  pool: Pool;
  blobs: BlobStore;
  /** as AudioDeps (activities/audio.ts) */
  pcmBlockSeconds?: number;
  tiers?: Record<Tier, TierLimits>;
}

export interface ChannelTranscript {
  channel: number;
  text: string;
  segments: TranscriptSegment[];
}

/** Splits chunk_results rows by channel and merges each channel's segments (pure; unit-tested). */
export function mergeChannels(
  rows: { chunk_index: number; start_s: number; end_s: number; segments: { start: number; end: number; text: string }[] }[],
  channels: number,
  audioSeconds: number,
): { channels: ChannelTranscript[]; segments: (TranscriptSegment & { channel: number })[]; text: string } {
  const out: ChannelTranscript[] = [];
  for (let c = 0; c < channels; c++) {
    const mine = rows
      .filter((r) => Math.floor(r.chunk_index / CHANNEL_CHUNK_STRIDE) === c)
      .map((r) => ({ index: r.chunk_index, start: r.start_s, end: r.end_s, segments: r.segments }));
    const segments = mergeChunkSegments(mine, audioSeconds);
    out.push({ channel: c, text: transcriptText(segments), segments });
  }
  const all = out
    .flatMap((ch) => ch.segments.map((s) => ({ ...s, channel: ch.channel })))
    .sort((a, b) => a.start - b.start || a.channel - b.channel);
  return { channels: out, segments: all, text: transcriptText(all) };
}

export function createChannelsActivities({ pool, blobs, pcmBlockSeconds, tiers }: ChannelsDeps) {
  return {
    /**
     * Decodes each of the upload's `channels` to its own 16 kHz float32 blob and plans its chunks.
     * Idempotent: a retry re-decodes into the same keys.
     * @throws non-retryable `unsupported_audio` when ffmpeg cannot decode a channel, `audio_too_long`
     *   when one decodes to more than the tier allows
     */
    async prepareChannels({ jobId, channels, tier }: { jobId: string; channels: number; tier?: Tier }): Promise<PreparedAudio> {
      let upload: string;
      try {
        upload = await blobs.fetch(blobKeys.upload(jobId));
      } catch (err) {
        if (err instanceof BlobNotFoundError) throw ApplicationFailure.nonRetryable(`audio of job ${jobId} is missing`, 'audio_missing');
        throw err;
      }
      const ctx = Context.current();
      const beat = setInterval(() => ctx.heartbeat(), HEARTBEAT_MS);
      const chunks: PreparedAudio['chunks'] = [];
      let audioSeconds = 0;
      let speechSeconds = 0;
      try {
        for (let c = 0; c < channels; c++) {
          const file = blobs.prepare(blobKeys.channelPcm(jobId, c));
          // Silence removed per channel, as for one-channel jobs: only speech is transcribed and billed.
          // Streamed in bounded memory like a one-channel job (audio/prepare.ts).
          const planned = await preparePcm(upload, file, {
            signal: ctx.cancellationSignal,
            audioFilter: channelFilter(c),
            what: `channel ${c}`,
            blockSamples: pcmBlockSamples(pcmBlockSeconds),
            maxSamples: maxDecodedSamples(tiers, tier),
          });
          if (ctx.cancellationSignal.aborted) throw ctx.cancellationSignal.reason;
          audioSeconds = Math.max(audioSeconds, planned.samples / SAMPLE_RATE);
          observeVad({ seconds: planned.vadMs / 1000, audioSeconds: planned.samples / SAMPLE_RATE, speechSeconds: planned.speechSeconds });
          speechSeconds += planned.speechSeconds;
          for (const chunk of planned.chunks) {
            chunks.push({ ...chunk, index: c * CHANNEL_CHUNK_STRIDE + chunk.index, channel: c });
          }
          // Published for the inference workers (other machines with S3).
          await blobs.commit(blobKeys.channelPcm(jobId, c));
        }
        await blobs.dropLocal(jobId);
      } catch (err) {
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
      return { audioSeconds, speechSeconds, chunks };
    },

    /** Merges every channel's chunk results into `channels`, `segments` and `text`; marks the job completed. */
    async finalizeChannels({ jobId, channels, audioSeconds, billedSeconds, languages }: { jobId: string; channels: number; audioSeconds: number; billedSeconds: number; languages?: JobLanguages }): Promise<{ segments: number }> {
      const { rows } = await pool.query(
        'SELECT chunk_index, start_s, end_s, segments, language, language_probability FROM chunk_results WHERE job_id = $1 ORDER BY chunk_index',
        [jobId],
      );
      const merged = mergeChannels(rows, channels, audioSeconds);
      await completeJob(pool, jobId, rows, { text: merged.text, segments: merged.segments, channels: merged.channels, billedSeconds, audioSeconds, languages });
      return { segments: merged.segments.length };
    },
  };
}
