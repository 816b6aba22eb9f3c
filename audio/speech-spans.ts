/**
 * Silence removal before inference, and the way back: find the spans of 16 kHz audio that hold speech
 * (leading, trailing and long inner silence left out), plan chunks over the spans laid end to end, and
 * map times the model gives on that compacted audio back to the original time line. Pure; unit-tested.
 *
 * Why: silence costs a full encoder window per 30 s and tempts Whisper to hallucinate ("Thank you."),
 * and a caller is billed for speech only (API.md "Definitions": billed seconds = speech after silence
 * removal).
 */
import {
  DEFAULT_CHUNK_PLAN,
  FrameEnergyMeter,
  frameEnergyDb,
  isSilentEnergy,
  planChunksFromEnergy,
  silenceThresholdDb,
  type ChunkPlanOptions,
  type ChunkSpan,
} from './chunk-plan';

/** A stretch of the original audio, seconds. */
export interface TimeSpan {
  start: number;
  end: number;
}

export interface SpeechSpanOptions {
  sampleRate: number;
  /** Energy frame length, as chunk planning uses (20 ms). */
  frameSeconds: number;
  /**
   * An inner pause at least this long is removed (down to twice `marginSeconds`); shorter pauses are
   * part of speech and left for Whisper, which times them itself.
   */
  minRemovedSilenceSeconds: number;
  /**
   * Silence kept on each side of speech, so quiet word onsets and tails (below the energy threshold)
   * are not clipped; after removal a long pause reads as a pause of twice this.
   */
  marginSeconds: number;
}

export const DEFAULT_SPEECH_SPANS: SpeechSpanOptions = {
  sampleRate: 16000,
  frameSeconds: 0.02,
  minRemovedSilenceSeconds: 2,
  marginSeconds: 0.5,
};

/**
 * The parts of the audio to send to inference: speech frames (above chunk-plan's adaptive silence
 * threshold) widened by `marginSeconds`, merged across pauses shorter than `minRemovedSilenceSeconds`.
 * The whole-array form of EnergySpeechDetector (same result).
 * @param samples float32 PCM at `opts.sampleRate`
 * @returns spans in seconds, ordered, disjoint; [] when no frame is above the threshold
 */
export function findSpeechSpans(samples: Float32Array, opts: SpeechSpanOptions = DEFAULT_SPEECH_SPANS): TimeSpan[] {
  const detector = new EnergySpeechDetector(opts);
  detector.push(samples);
  return detector.finish();
}

/**
 * Finds the speech in 16 kHz mono float32 audio that arrives in blocks, in one pass, without holding
 * the audio (audio preparation streams the normalised PCM through it: activities/audio.ts). Blocks are
 * consecutive and of any length; `finish` is called once, after the last block. Async methods are
 * awaited, so a detector may run a model per block.
 */
export interface SpeechDetector {
  push(block: Float32Array): void | Promise<void>;
  /** @returns spans in seconds on the audio's time line, ordered, disjoint */
  finish(): TimeSpan[] | Promise<TimeSpan[]>;
}

/**
 * The energy detector: 20 ms frame energies kept as they arrive (FrameEnergyMeter, 4 bytes per
 * frame), the adaptive threshold (silenceThresholdDb: the 90th percentile needs every frame) and the
 * spans computed at `finish`. Any split of the audio into blocks gives the same spans.
 */
export class EnergySpeechDetector implements SpeechDetector {
  private readonly meter: FrameEnergyMeter;

  constructor(private readonly opts: SpeechSpanOptions = DEFAULT_SPEECH_SPANS) {
    this.meter = new FrameEnergyMeter(Math.round(opts.frameSeconds * opts.sampleRate));
  }

  push(block: Float32Array): void {
    this.meter.push(block);
  }

  finish(): TimeSpan[] {
    const total = this.meter.samples / this.opts.sampleRate;
    return spansFromEnergy(this.meter.finish(), total, this.opts);
  }
}

/** Speech spans from frame energies (see findSpeechSpans); `totalSeconds` clips the last margin. */
function spansFromEnergy(energy: Float32Array, totalSeconds: number, opts: SpeechSpanOptions): TimeSpan[] {
  if (energy.length === 0) return [];
  const threshold = silenceThresholdDb(energy);
  const raw: TimeSpan[] = [];
  let open = -1;
  for (let f = 0; f <= energy.length; f++) {
    const speech = f < energy.length && energy[f] >= threshold;
    if (speech && open < 0) open = f;
    if (!speech && open >= 0) {
      raw.push({ start: open * opts.frameSeconds, end: f * opts.frameSeconds });
      open = -1;
    }
  }
  const spans: TimeSpan[] = [];
  for (const r of raw) {
    const start = Math.max(0, r.start - opts.marginSeconds);
    const end = Math.min(totalSeconds, r.end + opts.marginSeconds);
    const last = spans[spans.length - 1];
    // A gap shorter than the removable length (measured between speech, margins included) stays.
    if (last && r.start - (last.end - opts.marginSeconds) < opts.minRemovedSilenceSeconds) last.end = end;
    else spans.push({ start, end });
  }
  return spans.map((s) => ({ start: round3(s.start), end: round3(s.end) }));
}

/** Seconds covered by the spans. */
export function spanSeconds(spans: readonly TimeSpan[]): number {
  return spans.reduce((sum, s) => sum + (s.end - s.start), 0);
}

/** The spans' samples laid end to end. */
export function compactAudio(samples: Float32Array, spans: readonly TimeSpan[], sampleRate = DEFAULT_SPEECH_SPANS.sampleRate): Float32Array {
  const ranges = spanSampleRanges(spans, samples.length, sampleRate);
  const out = new Float32Array(ranges.reduce((n, [a, b]) => n + (b - a), 0));
  let at = 0;
  for (const [a, b] of ranges) {
    out.set(samples.subarray(a, b), at);
    at += b - a;
  }
  return out;
}

/**
 * Chunks of ≤ 30 s over the speech only: silence removed (findSpeechSpans), the rest laid end to end
 * and cut by planChunks (at pauses, else the quietest frame), chunks with no speech at all dropped.
 * Each chunk's `start`/`end` are on the original time line; a chunk that spans a removed pause lists
 * its `pieces` (original times), whose audio the inference activity lays end to end again.
 * The whole-array form of planning; audio preparation streams instead (planSpeechChunksFromEnergy).
 * @returns the chunks (indices 0…n-1, in order) and the seconds they hold (what is billed)
 */
export function planSpeechChunks(
  samples: Float32Array,
  spanOpts: SpeechSpanOptions = DEFAULT_SPEECH_SPANS,
  planOpts: ChunkPlanOptions = DEFAULT_CHUNK_PLAN,
): { chunks: ChunkSpan[]; speechSeconds: number } {
  const spans = findSpeechSpans(samples, spanOpts);
  const compact = compactAudio(samples, spans, spanOpts.sampleRate);
  const compactEnergy = frameEnergyDb(compact, Math.round(planOpts.frameSeconds * planOpts.sampleRate));
  return planSpeechChunksFromEnergy(spans, compactEnergy, compact.length, planOpts);
}

/**
 * Sample ranges [first, last) of the spans, as compactAudio cuts them (clipped to `totalSamples`): what
 * a stream of the compacted audio reads from the original.
 */
export function spanSampleRanges(spans: readonly TimeSpan[], totalSamples: number, sampleRate = DEFAULT_SPEECH_SPANS.sampleRate): [number, number][] {
  return spans
    .map((s): [number, number] => [Math.round(s.start * sampleRate), Math.min(totalSamples, Math.round(s.end * sampleRate))])
    .filter(([a, b]) => b > a);
}

/**
 * planSpeechChunks from the speech `spans` and the frame energies of the compacted audio (the spans'
 * samples laid end to end, measured in `planOpts.frameSeconds` frames, e.g. by a FrameEnergyMeter fed
 * the ranges of spanSampleRanges): chunks are planned on the energies and a chunk whose frames all stay
 * under the speech floor is dropped (isSilent's test: its frames are the chunk's own, since every cut
 * falls on a frame boundary).
 * @param compactSamples the compacted audio's length in samples
 */
export function planSpeechChunksFromEnergy(
  spans: readonly TimeSpan[],
  compactEnergy: Float32Array,
  compactSamples: number,
  planOpts: ChunkPlanOptions = DEFAULT_CHUNK_PLAN,
): { chunks: ChunkSpan[]; speechSeconds: number } {
  const sr = planOpts.sampleRate;
  const frameLen = Math.round(planOpts.frameSeconds * sr);
  const chunks: ChunkSpan[] = [];
  let speechSeconds = 0;
  for (const c of planChunksFromEnergy(compactEnergy, compactSamples, planOpts)) {
    // Chunks without speech are not sent to inference, so they are neither transcribed nor billed.
    const frames = compactEnergy.subarray(Math.round(Math.round(c.start * sr) / frameLen), Math.ceil(Math.round(c.end * sr) / frameLen));
    if (isSilentEnergy(frames)) continue;
    const pieces = toOriginal(spans, c.start, c.end);
    if (pieces.length === 0) continue;
    const chunk: ChunkSpan = { index: chunks.length, start: pieces[0].start, end: pieces[pieces.length - 1].end };
    if (pieces.length > 1) chunk.pieces = pieces;
    chunks.push(chunk);
    speechSeconds += spanSeconds(pieces);
  }
  return { chunks, speechSeconds };
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

/**
 * Maps a segment's times on a chunk's compacted audio (its pieces laid end to end, seconds from the
 * first piece's start) to the original time line. Inside a piece a time moves by the piece's offset.
 * Near a junction, where the model sees only the kept margins of a removed pause: a segment start in
 * the silent margin before the junction belongs to the speech after the pause (it keeps its true
 * start), a segment end in the margin after the junction to the speech before it.
 * @param margin the silence kept around speech (DEFAULT_SPEECH_SPANS.marginSeconds)
 * @returns { start, end } in original seconds, end ≥ start
 */
export function mapSegmentToOriginal(
  seg: { start: number; end: number },
  pieces: readonly TimeSpan[],
  margin: number = DEFAULT_SPEECH_SPANS.marginSeconds,
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
  return { start, end: Math.max(start, mapEnd(seg.end)) };
}

function round3(x: number): number {
  return Math.round(x * 1000) / 1000;
}

/**
 * A chunk's audio as inference sees it: its pieces laid end to end where silence was removed inside it,
 * else the stretch [start, end].
 * @param read returns the original audio between two times (seconds), e.g. from the normalised PCM blob
 */
export function chunkAudio(chunk: ChunkSpan, read: (start: number, end: number) => Float32Array): Float32Array {
  if (!chunk.pieces) return read(chunk.start, chunk.end);
  const parts = chunk.pieces.map((p) => read(p.start, p.end));
  const out = new Float32Array(parts.reduce((n, p) => n + p.length, 0));
  let at = 0;
  for (const p of parts) {
    out.set(p, at);
    at += p.length;
  }
  return out;
}

/**
 * A segment's times on the chunk's own audio (chunkAudio) as seconds from the chunk's start on the
 * original time line, what chunk results store and mergeChunkSegments expects; centisecond precision.
 */
export function chunkRelativeTimes(chunk: ChunkSpan, seg: { start: number; end: number }): { start: number; end: number } {
  const t = chunk.pieces ? mapSegmentToOriginal(seg, chunk.pieces) : { start: chunk.start + seg.start, end: chunk.start + seg.end };
  return { start: Math.round((t.start - chunk.start) * 100) / 100, end: Math.round((t.end - chunk.start) * 100) / 100 };
}
