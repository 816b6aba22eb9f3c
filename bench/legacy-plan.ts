/**
 * The chunk planner of main c255319 (audio/speech-spans.ts before #17's faster-whisper rule), kept only so that
 * `eval:wer -- --plans old30,…` measures before and after in one run: speech spans laid end to end (silence
 * removed) and cut into chunks of ≤ maxChunkSeconds of COMPACTED speech, so one chunk could span far more than 30 s
 * of the original time line. Not used by the service.
 */
import type { ChunkSpan } from '../audio/chunk-plan';
import { DEFAULT_SPEECH_PLAN, findSpeechSpans, spanSeconds, type SpeechPlanOptions, type TimeSpan } from '../audio/speech-spans';
import { silentRuns, VAD_FRAME_SECONDS } from '../audio/vad';

/** A place to cut on the compacted time line: its middle, and how long the non-speech there is. */
interface CutGap {
  at: number;
  length: number;
}

/**
 * Chunks of ≤ maxSpeechSeconds (30 s) over the speech only. The speech spans (findSpeechSpans) are laid end to end; each
 * chunk ends in the middle of the longest non-speech gap near the limit (a removed pause between spans,
 * or a run of non-speech frames ≥ minCutGapMs inside a span; pauses ≥ clearPauseSeconds count as equally
 * long, and then the latest wins), sought in the last nearLimitSeconds before the limit, then back to
 * minChunkSeconds. Where speech runs on with
 * no such gap, the chunk ends at the limit and the next one starts overlapSeconds earlier (the merge
 * keeps each word once). Audio with no speech gives no chunks: no window without VAD speech reaches the
 * model. Each chunk's `start`/`end` are on the original time line; a chunk that spans a removed pause
 * lists its `pieces` (original times), whose audio the inference activity lays end to end again.
 * @param probs speech probability per 512-sample frame (audio/silero-vad.ts)
 * @param totalSamples length of the audio, samples at 16 kHz
 * @returns the chunks (indices 0…n-1, in order) and the seconds of speech (padded spans, each second
 *   once however chunks overlap: what is billed)
 */
export function planCompactedChunks(
  probs: ArrayLike<number>,
  totalSamples: number,
  opts: SpeechPlanOptions = DEFAULT_SPEECH_PLAN,
): { chunks: ChunkSpan[]; speechSeconds: number; spans: TimeSpan[] } {
  const spans = findSpeechSpans(probs, totalSamples, opts.vad);
  const offsets: number[] = [];
  let total = 0;
  for (const s of spans) {
    offsets.push(total);
    total += s.end - s.start;
  }
  // Cut candidates, in compacted seconds, ordered.
  const gaps: CutGap[] = [];
  const minGapFrames = Math.ceil(opts.minCutGapMs / 1000 / VAD_FRAME_SECONDS);
  spans.forEach((s, k) => {
    if (k > 0) gaps.push({ at: offsets[k], length: Infinity });
    const fromFrame = Math.ceil(s.start / VAD_FRAME_SECONDS);
    const toFrame = Math.floor(s.end / VAD_FRAME_SECONDS);
    for (const r of silentRuns(probs, fromFrame, toFrame, opts.vad)) {
      if (r.end - r.start < minGapFrames) continue;
      const mid = ((r.start + r.end) / 2) * VAD_FRAME_SECONDS;
      gaps.push({ at: offsets[k] + (mid - s.start), length: (r.end - r.start) * VAD_FRAME_SECONDS });
    }
  });

  const ranges: TimeSpan[] = [];
  let start = 0;
  const eps = 1e-6;
  while (total - start > eps) {
    if (total - start <= opts.maxSpeechSeconds) {
      ranges.push({ start, end: total });
      break;
    }
    const limit = start + opts.maxSpeechSeconds;
    const pick = (lo: number): CutGap | null => {
      let best: CutGap | null = null;
      const score = (g: CutGap) => Math.min(g.length, opts.clearPauseSeconds);
      for (const g of gaps) {
        if (g.at <= lo || g.at > limit) continue;
        if (!best || score(g) >= score(best)) best = g;
      }
      return best;
    };
    const cut = pick(limit - opts.nearLimitSeconds) ?? pick(start + opts.minChunkSeconds);
    if (cut) {
      ranges.push({ start, end: cut.at });
      start = cut.at;
    } else {
      ranges.push({ start, end: limit });
      start = limit - opts.overlapSeconds;
    }
  }
  const chunks: ChunkSpan[] = [];
  for (const r of ranges) {
    const pieces = toOriginal(spans, r.start, r.end);
    if (pieces.length === 0) continue;
    const chunk: ChunkSpan = { index: chunks.length, start: pieces[0].start, end: pieces[pieces.length - 1].end };
    if (pieces.length > 1) chunk.pieces = pieces;
    const prev = chunks[chunks.length - 1];
    if (prev && chunk.start < prev.end - 1e-6) {
      prev.overlapsNext = true;
      chunk.overlapsPrev = true;
    }
    chunks.push(chunk);
  }
  return { chunks, speechSeconds: round3(spanSeconds(spans)), spans };
}

/** The original-time pieces of the compacted range [from, to). */
function toOriginal(spans: readonly TimeSpan[], from: number, to: number): TimeSpan[] {
  const pieces: TimeSpan[] = [];
  let offset = 0;
  for (const s of spans) {
    const len = s.end - s.start;
    const a = Math.max(from, offset);
    const b = Math.min(to, offset + len);
    if (b - a > 1e-9) pieces.push({ start: round3(s.start + (a - offset)), end: round3(s.start + (b - offset)) });
    offset += len;
  }
  return pieces;
}

function round3(x: number): number {
  return Math.round(x * 1000) / 1000;
}
