/**
 * Audio preparation in bounded memory, whatever the file's length: the upload is normalised by ffmpeg
 * into a pipe, written to the PCM file and fed to Silero VAD (its own thread, audio/vad-client.ts) block
 * by block in the same pass; the chunks are planned from the speech probabilities alone and hashed by
 * reading the file back in blocks (positional reads of the chunks' ranges only). No step holds the
 * samples: a 12 h upload is 2.8 GB of float32, more than Node can read into one buffer (2 GiB).
 *
 *   pass 1  ffmpeg → pipe → { PCM file, Silero VAD }       the whole audio, once
 *   plan    speech probabilities → chunks (audio/speech-spans.ts planSpeechChunks)
 *   pass 2  PCM file (each chunk's ranges) → SHA-256        the speech, read back
 *
 * Memory: one block (PCM_READ_BLOCK_SECONDS, 30 s = 1.9 MB by default) at a time, plus 4 bytes per
 * 32 ms VAD frame for the probabilities (0.45 MB per hour) and the chunk list.
 */
import { isDeepStrictEqual } from 'node:util';
import type { ChunkSpan } from '../common/jobs';
import { decodeToPcm, DEFAULT_BLOCK_SAMPLES } from './ffmpeg';
import { withChunkHashesFromFile } from './pcm-blob';
import { DEFAULT_SPEECH_PLAN, planSpeechChunks, type SpeechPlanOptions } from './speech-spans';
import { VAD_FRAME_SAMPLES, VAD_FRAME_SECONDS } from './vad';
import { VadThread } from './vad-client';
import { SAMPLE_RATE } from '../engine/constants';

/** preparePcm announces early chunks only while the decoded prefix is shorter than this (seconds). */
const ANNOUNCE_WITHIN_SECONDS = 20 * 60;

export interface PreparePcmOptions {
  signal?: AbortSignal;
  /** samples per block in every pass (default 30 s) */
  blockSamples?: number;
  /** decoded samples beyond this fail with AudioTooLongError (a header that understated the length) */
  maxSamples?: number;
  /** ffmpeg -af instead of the downmix to mono (one channel of a multichannel job) */
  audioFilter?: string;
  /** the subject of a decode error's sentence */
  what?: string;
  /**
   * Called, in order, with chunks the whole file's plan is sure to begin with (sureChunksOfPrefix), hashed, as
   * soon as the decoded prefix settles them, while the rest of the file is still decoded; together at most
   * `announceLimit` chunks. Their PCM is in `outFile` when it is called. Awaited before preparePcm returns
   * (not by the decode: a slow callback does not stall ffmpeg).
   */
  onChunks?: (chunks: ChunkSpan[]) => Promise<void>;
  /** the most chunks `onChunks` is given (default 16) */
  announceLimit?: number;
  /**
   * announce only when the container's header says the audio is at most this long (seconds); a header without a
   * duration announces nothing. The workflow uses it to start early only jobs it will run without child workflows.
   */
  announceIfSecondsAtMost?: number;
}

export interface PreparedPcm {
  /** samples in the PCM file (16 kHz) */
  samples: number;
  /** chunks with speech, indices 0…n-1, each with the SHA-256 of what a worker will read */
  chunks: ChunkSpan[];
  /** seconds sent to inference (what is billed, before rounding) */
  speechSeconds: number;
  /** blocks the decode pass handed to the VAD */
  blocks: number;
  /** wall time the VAD thread spent on this audio, ms (fairscribe_vad_seconds) */
  vadMs: number;
  /** chunks given to `onChunks` before the whole file was planned (each equal to the same index here) */
  announced: number;
}

/** Thrown when a chunk announced early differs from the whole file's plan (a planner rule that is not prefix-stable). */
export class PlanPrefixError extends Error {
  constructor(index: number) {
    super(`chunk ${index} was announced before the whole file was planned, and the whole file's plan differs there`);
    this.name = 'PlanPrefixError';
  }
}

/**
 * The chunks of a prefix's plan that the whole audio's plan is sure to begin with, unchanged: what preparation can
 * hand to inference before the rest of the file is decoded.
 *
 * Why they are final: faster-whisper's get_speech_timestamps (audio/vad.ts speechTimestamps) is a state machine over
 * frames; a span it closes (after `minSilenceDurationMs` of non-speech) depends on no later frame, its padding on the
 * next span only through a gap of ≥ minSilenceDurationMs (> 2 × speechPadMs: the full pad), and with
 * `maxSpeechDurationS` = Infinity it never splits a span. Only the prefix's last span can still change (open, or
 * cut by the prefix's end), so spans before it are the whole file's first spans; of the last one, its start and
 * everything up to its last speech frame are final too (it will end after that frame; a non-speech run inside it that
 * ended before that frame is whole), once that stretch is longer than minSpeechDurationMs (so the span is kept). The
 * compacted line up to there is `final`: with speech that never pauses for 2 s (one open span) chunks are still
 * announced as the decode goes. planSpeechChunks is greedy on the compacted line: the chunk starting at s decides its
 * end from the cut gaps and speech in (s, s + maxChunkSeconds] only (and that more than maxChunkSeconds of speech
 * follow s), so a chunk with s + maxChunkSeconds < final (a 1 s margin for the millisecond rounding of original times)
 * is the whole plan's chunk, and so is its start (a cut or a hard limit − overlap), hence its overlap flags.
 * A planner with a finite `maxSpeechDurationS` splits spans by later frames: nothing is sure then (returns []).
 * preparePcm checks every announced chunk against the whole plan all the same (PlanPrefixError).
 * @param probs speech probability per 512-sample frame of the prefix
 * @param samples the prefix's length, samples at 16 kHz
 * @returns chunks 0…k-1 of the prefix's plan (no hashes), k ≥ 0
 */
export function sureChunksOfPrefix(probs: ArrayLike<number>, samples: number, opts: SpeechPlanOptions = DEFAULT_SPEECH_PLAN): ChunkSpan[] {
  if (Number.isFinite(opts.vad.maxSpeechDurationS)) return [];
  if (opts.vad.minSilenceDurationMs <= 2 * opts.vad.speechPadMs) return [];
  const { chunks, spans } = planSpeechChunks(probs, samples, opts);
  if (spans.length === 0) return [];
  const offsets: number[] = [];
  let closed = 0;
  for (const s of spans) {
    offsets.push(closed);
    closed += s.end - s.start;
  }
  const last = spans[spans.length - 1];
  closed -= last.end - last.start;
  // Inside the last span, what lies before its last speech frame is final too: the span's start is (its gap to the
  // span before is ≥ minSilenceDurationMs), it will end after that frame, and a non-speech run inside it that ended
  // before that frame is whole. So the final compacted line reaches that frame, once the span is long enough to be kept.
  // (the last speech frame inside that span: one after it belongs to a blip too short to be a span, or to none yet)
  let lastSpeech = -1;
  for (let f = Math.min(probs.length, Math.ceil(last.end / VAD_FRAME_SECONDS)) - 1; f * VAD_FRAME_SECONDS >= last.start; f--) {
    if (f * VAD_FRAME_SECONDS < last.end && probs[f] >= opts.vad.threshold) {
      lastSpeech = f * VAD_FRAME_SECONDS;
      break;
    }
  }
  // the span's first speech frame is at most a pad after its start (exactly a pad, unless clipped at 0)
  const firstSpeechOfLast = last.start + opts.vad.speechPadMs / 1000;
  const final = lastSpeech - firstSpeechOfLast > opts.vad.minSpeechDurationMs / 1000 + VAD_FRAME_SECONDS ? closed + Math.max(0, lastSpeech - last.start) : closed;
  const MARGIN_S = 1;
  const sure: ChunkSpan[] = [];
  for (const c of chunks) {
    // the chunk's compacted start
    const k = spans.findIndex((s) => c.start >= s.start - 1e-3 && c.start <= s.end + 1e-3);
    if (k < 0) break;
    const at = offsets[k] + Math.max(0, c.start - spans[k].start);
    if (at + opts.maxChunkSeconds + MARGIN_S >= final) break;
    sure.push(c);
  }
  return sure;
}

/**
 * Normalises `inFile` into the PCM file `outFile` (16 kHz mono float32 LE) and plans its chunks in
 * bounded memory (see the file comment).
 * @throws UnsupportedAudioError, AudioTooLongError (from decodeToPcm); the signal's reason when aborted
 */
export async function preparePcm(inFile: string, outFile: string, opts: PreparePcmOptions = {}): Promise<PreparedPcm> {
  const blockSamples = opts.blockSamples ?? DEFAULT_BLOCK_SAMPLES;
  // levelled: quiet audio is raised for the VAD only (audio/vad-gain.ts); the PCM file keeps the decoded samples.
  const vad = VadThread.shared().open({ levelled: true });
  const parts: Float32Array[] = [];
  let blocks = 0;
  let samples: number;
  // Early chunks: after each block's VAD, the prefix's sure chunks (sureChunksOfPrefix) past those already given,
  // hashed from the file (their bytes are written before the block reaches the VAD) and handed to onChunks on a chain
  // of their own; stops at announceLimit, so the prefix's plan is re-run over a few minutes of audio at most.
  let announceLimit = opts.onChunks ? (opts.announceLimit ?? 16) : 0;
  const announcedChunks: ChunkSpan[] = [];
  let decodedSamples = 0;
  let announcing: Promise<void> = Promise.resolve();
  const announceSure = async () => {
    // Past the first 20 minutes the prefix's plan is not re-run per block (a long silence would make that quadratic);
    // the rest is announced by the whole plan, as without onChunks.
    if (announcedChunks.length >= announceLimit || decodedSamples > ANNOUNCE_WITHIN_SECONDS * SAMPLE_RATE) return;
    const prefix = concatProbs(parts);
    // The probabilities may lag the decode by up to one gain window (blocks that are not whole 30 s windows): the
    // prefix planned is what they cover, within the frame the model has begun.
    const covered = Math.min(decodedSamples, (prefix.length + 1) * VAD_FRAME_SAMPLES - 1);
    const fresh = sureChunksOfPrefix(prefix, covered).slice(announcedChunks.length, announceLimit);
    if (fresh.length === 0) return;
    const hashed: ChunkSpan[] = [];
    for (const c of fresh) hashed.push(await withChunkHashesFromFile(outFile, c, blockSamples));
    announcedChunks.push(...hashed);
    announcing = announcing.then(() => opts.onChunks!(hashed));
    // a failed announcement fails preparation below, not as an unhandled rejection now
    announcing.catch(() => undefined);
  };
  // The VAD of block k runs on its thread while ffmpeg decodes block k + 1 (two processes' work on two cores
  // instead of taking turns); at most one push is outstanding, so memory stays two blocks.
  let inFlight: Promise<void> = Promise.resolve();
  try {
    samples = await decodeToPcm(inFile, outFile, {
      signal: opts.signal,
      blockSamples,
      maxSamples: opts.maxSamples,
      audioFilter: opts.audioFilter,
      what: opts.what,
      onHeader: (seconds) => {
        if (opts.announceIfSecondsAtMost !== undefined && !(seconds <= opts.announceIfSecondsAtMost)) announceLimit = 0;
      },
      // Awaited by the decoder: it reads no further until the previous block's VAD is done.
      onBlock: async (block) => {
        blocks++;
        await inFlight;
        const at = parts.push(new Float32Array(0)) - 1;
        decodedSamples += block.length;
        const upTo = decodedSamples;
        // push copies the block before it returns its promise: the decoder may reuse its buffer.
        inFlight = vad.push(block).then(async (probs) => {
          parts[at] = probs;
          if (announcedChunks.length < announceLimit && upTo === decodedSamples) await announceSure();
        });
      },
    });
    await inFlight;
  } finally {
    // Frees the stream's state on the VAD thread whatever happened (after the push in flight: the thread
    // answers a stream's requests in order); its last frame counts on success.
    await inFlight.catch(() => undefined);
    parts.push(await vad.finish());
  }
  const planned = planSpeechChunks(concatProbs(parts), samples);
  const chunks: ChunkSpan[] = [];
  for (const c of planned.chunks) {
    opts.signal?.throwIfAborted();
    // an announced chunk is already hashed: the check below compares it whole, hashes included
    chunks.push(c.index < announcedChunks.length ? announcedChunks[c.index] : await withChunkHashesFromFile(outFile, c, blockSamples));
  }
  for (let i = 0; i < announcedChunks.length; i++) {
    const { sha256: _s, pieces, ...early } = announcedChunks[i];
    const whole = planned.chunks[i];
    const strip = (ps?: { start: number; end: number }[]) => ps?.map((p) => ({ start: p.start, end: p.end }));
    if (!whole || !isDeepStrictEqual({ ...early, pieces: strip(pieces) }, { ...whole, pieces: strip(whole.pieces) })) throw new PlanPrefixError(i);
  }
  await announcing;
  return { samples, chunks, speechSeconds: planned.speechSeconds, blocks, vadMs: vad.busyMs, announced: announcedChunks.length };
}

/** The probability parts laid end to end. */
function concatProbs(parts: readonly Float32Array[]): Float32Array {
  const probs = new Float32Array(parts.reduce((n, p) => n + p.length, 0));
  let at = 0;
  for (const p of parts) {
    probs.set(p, at);
    at += p.length;
  }
  return probs;
}
