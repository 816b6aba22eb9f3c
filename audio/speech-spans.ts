/**
 * Silence removal before inference, and the way back: the spans of 16 kHz audio that hold speech by
 * Silero VAD (audio/silero-vad.ts probabilities, audio/vad.ts rules), chunks planned over the spans by
 * faster-whisper's batched rule (each chunk ≤ 30 s of the original time line, vad.py merge_segments), the
 * pauses inside a chunk removed, and the mapping of times the model gives on that compacted audio back to
 * the original time line. Pure; unit-tested. A chunk is speech end to end, so the engine does not read a window that
 * ends on a single timestamp as "nothing more" (openai's seek rule) but decodes its rest again
 * (engine/transcriber.ts tailSeek): with pauses removed, that rule lost 6 of 20 passages of bench:pipeline's file.
 *
 * Why: silence and noise cost encoder windows and tempt Whisper to hallucinate ("Thank you.", invented
 * text over pink noise), and a caller is billed for speech only (billed seconds = speech after silence
 * removal, README "How a job runs"). An energy threshold cannot tell speech from noise or music; the VAD can.
 */
import type { ChunkSpan } from './chunk-plan';
import { CHUNK_LENGTH_S } from '../engine/constants';
import { DEFAULT_VAD, silentRuns, speechTimestamps, VAD_FRAME_SAMPLES, VAD_FRAME_SECONDS, VAD_SAMPLE_RATE, type VadOptions } from './vad';

/** A stretch of the original audio, seconds. */
export interface TimeSpan {
  start: number;
  end: number;
}

/** How speech spans become chunks (planSpeechChunks). */
export interface SpeechPlanOptions {
  /** Silero VAD span rules (faster-whisper VadOptions; audio/vad.ts) */
  vad: VadOptions;
  /**
   * no chunk's ORIGINAL span (first start to last end, removed pauses included) is longer: faster-whisper vad.py
   * `merge_segments` closes a chunk when `seg["end"] - curr_start > chunk_length` (chunk_length = 30 s, Whisper's
   * window, openai audio.py CHUNK_LENGTH)
   */
  maxChunkSeconds: number;
  /**
   * no piece cut out of a span of speech that runs on is longer: faster-whisper's batched pipeline asks
   * get_speech_timestamps for `max_speech_duration_s = chunk_length` and splits at `max_speech_samples` = 29.168 s
   * ({@link FASTER_WHISPER_MAX_CHUNK_SECONDS}, the default); 30 s fills windows to exactly 30.0 s
   */
  maxSpeechSeconds: number;
  /**
   * pauses between the spans of one chunk kept as they are, as faster-whisper's collect_chunks keeps them
   * (`audio[chunk["start"] : chunk["end"]]`); false: removed, the spans laid end to end (the chunk lists `pieces`)
   */
  keepPauses: boolean;
  /** no cut before this, so chunks are not needlessly short */
  minChunkSeconds: number;
  /**
   * cuts are sought first in the last this-many seconds before the limit ("near the 30 s limit"), then
   * back to minChunkSeconds
   */
  nearLimitSeconds: number;
  /**
   * a non-speech run (frames below the negative threshold) at least this long is a place to cut inside
   * a span: vad.py splits an over-long span at a silence of more than 98 ms
   * (`min_silence_samples_at_max_speech`), the same measure.
   */
  minCutGapMs: number;
  /**
   * where speech runs past the limit without such a pause, the next chunk starts this much before the
   * previous one ends, and the merge keeps each word once (audio/transcript.ts). 3 s: longer than any
   * word, so each word lies whole inside one of the two chunks, and short against the 30 s window.
   */
  overlapSeconds: number;
  /**
   * a pause at least this long is a sure place to cut (between words, likely between sentences); among
   * such pauses the latest wins (chunks as full as the window allows, as faster-whisper splits an
   * over-long span at its last silence: vad.py `prev_end`); only among shorter pauses does length decide
   */
  clearPauseSeconds: number;
}

/**
 * faster-whisper's VAD limit for its batched pipeline: 30 s − 512 samples − 2 × speech_pad_ms = 29.168 s
 * (BatchedInferencePipeline asks for `max_speech_duration_s = chunk_length`, and vad.py get_speech_timestamps makes
 * it `max_speech_samples = sampling_rate * max_speech_duration_s - window_size_samples - 2 * speech_pad_samples`).
 * The default piece limit where speech runs on: windows filled to exactly 30.0 s made greedy decoding loop on
 * repeated speech, or read it as silence (eval:wer's long set, `--plans old30,30,fw` measures it). It once moved
 * the cut off the language switch of test/integration/languages.test.ts's long English-then-German file, when the
 * planner counted compacted speech; chunks now end at a removed pause whenever one fits (planSpeechChunks).
 */
export const FASTER_WHISPER_MAX_CHUNK_SECONDS = CHUNK_LENGTH_S - VAD_FRAME_SAMPLES / VAD_SAMPLE_RATE - (2 * DEFAULT_VAD.speechPadMs) / 1000;

export const DEFAULT_SPEECH_PLAN: SpeechPlanOptions = {
  vad: DEFAULT_VAD,
  maxChunkSeconds: CHUNK_LENGTH_S,
  maxSpeechSeconds: FASTER_WHISPER_MAX_CHUNK_SECONDS,
  keepPauses: false,
  minChunkSeconds: 10,
  nearLimitSeconds: 10,
  minCutGapMs: 98,
  overlapSeconds: 3,
  clearPauseSeconds: 0.5,
};

/**
 * The speech spans of the audio in seconds: Silero VAD probabilities through faster-whisper's
 * get_speech_timestamps (audio/vad.ts), padded by speechPadMs; pauses shorter than
 * minSilenceDurationMs stay inside a span.
 * @param probs speech probability per 512-sample frame (audio/silero-vad.ts)
 * @param totalSamples length of the audio, samples at 16 kHz
 */
export function findSpeechSpans(probs: ArrayLike<number>, totalSamples: number, vad: VadOptions = DEFAULT_VAD): TimeSpan[] {
  return speechTimestamps(probs, totalSamples, vad).map((s) => ({ start: s.start / VAD_SAMPLE_RATE, end: s.end / VAD_SAMPLE_RATE }));
}

/** Seconds covered by the spans. */
export function spanSeconds(spans: readonly TimeSpan[]): number {
  return spans.reduce((sum, s) => sum + (s.end - s.start), 0);
}

/** The spans' samples laid end to end. */
export function compactAudio(samples: Float32Array, spans: readonly TimeSpan[], sampleRate = VAD_SAMPLE_RATE): Float32Array {
  const ranges = spans.map((s) => [Math.round(s.start * sampleRate), Math.min(samples.length, Math.round(s.end * sampleRate))]);
  const out = new Float32Array(ranges.reduce((n, [a, b]) => n + Math.max(0, b - a), 0));
  let at = 0;
  for (const [a, b] of ranges) {
    if (b <= a) continue;
    out.set(samples.subarray(a, b), at);
    at += b - a;
  }
  return out;
}

/** A place to cut inside a span (original seconds): the middle of a run of non-speech frames, and its length. */
interface CutGap {
  at: number;
  length: number;
}

/**
 * Chunks over the Silero VAD speech spans (findSpeechSpans), by faster-whisper 1.1.0's batched rule
 * (transcribe.py `BatchedInferencePipeline.transcribe`: get_speech_timestamps with `max_speech_duration_s =
 * chunk_length`, then vad.py `merge_segments`, then `collect_chunks`), with overlap where it would cut a word:
 *  - whole spans are packed greedily while the chunk's ORIGINAL span (last end − first start, removed pauses
 *    included) stays ≤ maxChunkSeconds (30 s): merge_segments closes a chunk when
 *    `seg["end"] - curr_start > chunk_length`. A long pause therefore always separates chunks, and a chunk
 *    always ends at a removed pause (a span's end) when one fits: a cut between spans is preferred to a cut
 *    inside speech (speech either side of a ≥ 2 s pause often differs in topic, speaker or language).
 *  - a span that alone runs past the limit is cut inside, so that no piece is longer than maxSpeechSeconds
 *    (29.168 s: vad.py get_speech_timestamps `max_speech_samples`): in the middle of the longest run of
 *    non-speech frames ≥ minCutGapMs (vad.py splits at the last silence of more than 98 ms,
 *    `min_silence_samples_at_max_speech` / `prev_end`) sought in the last nearLimitSeconds before the limit,
 *    then back to minChunkSeconds; pauses ≥ clearPauseSeconds count as equally long, and then the latest wins.
 *    Where speech runs on with no such run, faster-whisper cuts hard at the limit (vad.py: "split aggressively
 *    just before max_speech_duration_s") and the word there is lost; here the chunk ends at the limit and the
 *    next starts overlapSeconds earlier, and the merge keeps each word once (audio/transcript.ts resolveOverlap).
 * A piece left over after such cuts is packed with the spans after it by the same rule (merge_segments packs
 * get_speech_timestamps' split segments like any other). Inside a chunk, removed pauses are laid end to end
 * (keepPauses false: the chunk lists its `pieces`, whose audio the inference activity concatenates) or kept as
 * faster-whisper's collect_chunks keeps them (`audio[chunk["start"] : chunk["end"]]`, keepPauses true).
 * Audio with no speech gives no chunks: no window without VAD speech reaches the model.
 * @param probs speech probability per 512-sample frame (audio/silero-vad.ts)
 * @param totalSamples length of the audio, samples at 16 kHz
 * @returns the chunks (indices 0…n-1, in order, times on the original time line) and the seconds of speech
 *   (padded spans, each second once however chunks overlap: what is billed)
 */
export function planSpeechChunks(
  probs: ArrayLike<number>,
  totalSamples: number,
  opts: SpeechPlanOptions = DEFAULT_SPEECH_PLAN,
): { chunks: ChunkSpan[]; speechSeconds: number; spans: TimeSpan[] } {
  const spans = findSpeechSpans(probs, totalSamples, opts.vad);
  const eps = 1e-6;
  // Cut candidates inside each span, original seconds, ordered.
  const minGapFrames = Math.ceil(opts.minCutGapMs / 1000 / VAD_FRAME_SECONDS);
  const gapsOf = spans.map((s) => {
    const gaps: CutGap[] = [];
    const fromFrame = Math.ceil(s.start / VAD_FRAME_SECONDS);
    const toFrame = Math.floor(s.end / VAD_FRAME_SECONDS);
    for (const r of silentRuns(probs, fromFrame, toFrame, opts.vad)) {
      if (r.end - r.start < minGapFrames) continue;
      gaps.push({ at: ((r.start + r.end) / 2) * VAD_FRAME_SECONDS, length: (r.end - r.start) * VAD_FRAME_SECONDS });
    }
    return gaps;
  });
  const maxSpeech = Math.min(opts.maxSpeechSeconds, opts.maxChunkSeconds);

  // Ranges on the original time line: [start, end] with the first and last span they touch.
  const ranges: { start: number; end: number; first: number; last: number }[] = [];
  let k = 0; // the span holding `start`
  let start = spans.length ? spans[0].start : 0;
  const pad = opts.vad.speechPadMs / 1000;
  while (k < spans.length) {
    // the rest of spans[k] is one segment of get_speech_timestamps when its unpadded speech is ≤ max_speech_samples:
    // a whole span carries speech_pad_ms on both sides, a rest after a cut inside it only at its end
    const restLimit = Math.min(opts.maxChunkSeconds, maxSpeech + (start <= spans[k].start + eps ? 2 : 1) * pad);
    if (spans[k].end - start <= restLimit + eps) {
      // merge_segments: add the next segment while `seg["end"] - curr_start <= chunk_length`
      let last = k;
      while (last + 1 < spans.length && spans[last + 1].end - start <= opts.maxChunkSeconds + eps) last++;
      ranges.push({ start, end: spans[last].end, first: k, last });
      k = last + 1;
      if (k < spans.length) start = spans[k].start;
      continue;
    }
    // spans[k] runs past the limit from `start`: cut inside it (get_speech_timestamps' max_speech_samples split)
    const limit = start + maxSpeech;
    const pick = (lo: number): CutGap | null => {
      let best: CutGap | null = null;
      const score = (g: CutGap) => Math.min(g.length, opts.clearPauseSeconds);
      for (const g of gapsOf[k]) {
        if (g.at <= lo || g.at > limit) continue;
        if (!best || score(g) >= score(best)) best = g;
      }
      return best;
    };
    const cut = pick(limit - opts.nearLimitSeconds) ?? pick(start + opts.minChunkSeconds);
    if (cut) {
      ranges.push({ start, end: cut.at, first: k, last: k });
      start = cut.at;
    } else {
      ranges.push({ start, end: limit, first: k, last: k });
      start = limit - opts.overlapSeconds;
    }
  }

  const chunks: ChunkSpan[] = [];
  for (const r of ranges) {
    if (r.end - r.start <= eps) continue;
    const chunk: ChunkSpan = { index: chunks.length, start: round3(r.start), end: round3(r.end) };
    if (!opts.keepPauses && r.last > r.first) {
      chunk.pieces = [];
      for (let j = r.first; j <= r.last; j++) {
        const a = Math.max(r.start, spans[j].start);
        const b = Math.min(r.end, spans[j].end);
        if (b - a > 1e-9) chunk.pieces.push({ start: round3(a), end: round3(b) });
      }
      if (chunk.pieces.length < 2) delete chunk.pieces;
    }
    const prev = chunks[chunks.length - 1];
    if (prev && chunk.start < prev.end - eps) {
      prev.overlapsNext = true;
      chunk.overlapsPrev = true;
    }
    chunks.push(chunk);
  }
  return { chunks, speechSeconds: round3(spanSeconds(spans)), spans };
}

/**
 * Maps a segment's times on a chunk's compacted audio (its pieces laid end to end, seconds from the
 * first piece's start) to the original time line. Inside a piece a time moves by the piece's offset.
 * Near a junction, where the model sees only the kept margins of a removed pause: a segment start in
 * the silent margin before the junction belongs to the speech after the pause (it keeps its true
 * start), a segment end in the margin after the junction to the speech before it, unless its start
 * went after the junction (then its end stays in that piece).
 * @param margin the non-speech kept around speech (the VAD's speechPadMs)
 * @returns { start, end } in original seconds, end ≥ start
 */
export function mapSegmentToOriginal(
  seg: { start: number; end: number },
  pieces: readonly TimeSpan[],
  margin: number = DEFAULT_VAD.speechPadMs / 1000,
): { start: number; end: number } {
  const offsets: number[] = [];
  let acc = 0;
  for (const p of pieces) {
    offsets.push(acc);
    acc += p.end - p.start;
  }
  const locate = (t: number, preferLater: boolean): number => {
    for (let k = 0; k < pieces.length; k++) {
      const endK = offsets[k] + (pieces[k].end - pieces[k].start);
      if (preferLater ? t < endK : t <= endK) return k;
    }
    return pieces.length - 1;
  };
  const at = (k: number, t: number) => {
    const p = pieces[k];
    return Math.min(p.end, Math.max(p.start, p.start + (t - offsets[k])));
  };
  const mapStart = (t: number) => {
    const k = locate(t, true);
    const len = pieces[k].end - pieces[k].start;
    const m = Math.min(margin, len / 2);
    if (k < pieces.length - 1 && t > offsets[k] + len - m) return pieces[k + 1].start;
    return at(k, t);
  };
  const mapEnd = (t: number) => {
    const k = locate(t, false);
    const len = pieces[k].end - pieces[k].start;
    const m = Math.min(margin, len / 2);
    if (k > 0 && t < offsets[k] + m) return pieces[k - 1].end;
    return at(k, t);
  };
  const start = mapStart(seg.start);
  let end = mapEnd(seg.end);
  // A short word (or segment) on both sides of a junction, e.g. the first word after a pause that the
  // alignment starts in the silent margin: its start went to the speech after the pause, so its end
  // belongs there too, not back to the speech before it (which would leave it zero-length).
  if (end < start) end = at(locate(seg.end, false), seg.end);
  return { start, end: Math.max(start, end) };
}

function round3(x: number): number {
  return Math.round(x * 1000) / 1000;
}

/**
 * The pieces of one chunk (or blocks of one stream) end to end, as one array.
 * @param parts mono PCM pieces in order; the result's length is the sum of theirs
 */
export function concatSamples(parts: readonly Float32Array[]): Float32Array {
  const out = new Float32Array(parts.reduce((n, p) => n + p.length, 0));
  let at = 0;
  for (const p of parts) {
    out.set(p, at);
    at += p.length;
  }
  return out;
}

/**
 * A chunk's audio as inference sees it: its pieces laid end to end where silence was removed inside it,
 * else the stretch [start, end].
 * @param read returns the original audio between two times (seconds), e.g. from the normalised PCM blob
 */
export function chunkAudio(chunk: ChunkSpan, read: (start: number, end: number) => Float32Array): Float32Array {
  if (!chunk.pieces) return read(chunk.start, chunk.end);
  return concatSamples(chunk.pieces.map((p) => read(p.start, p.end)));
}

/**
 * A segment's times on the chunk's own audio (chunkAudio) as seconds from the chunk's start on the
 * original time line, what chunk results store and mergeChunkSegments expects; centisecond precision.
 */
export function chunkRelativeTimes(chunk: ChunkSpan, seg: { start: number; end: number }): { start: number; end: number } {
  const t = chunk.pieces ? mapSegmentToOriginal(seg, chunk.pieces) : { start: chunk.start + seg.start, end: chunk.start + seg.end };
  return { start: Math.round((t.start - chunk.start) * 100) / 100, end: Math.round((t.end - chunk.start) * 100) / 100 };
}
