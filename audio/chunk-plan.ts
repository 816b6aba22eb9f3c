/**
 * Long-form chunk planning: cut 16 kHz mono audio into chunks of at most one Whisper window (30 s),
 * at silences where the speaker pauses, else at the quietest moment. Pure; unit-tested.
 */

/** A chunk of the normalised audio, in seconds on the original time line. */
export interface ChunkSpan {
  index: number;
  start: number;
  end: number;
  /**
   * Set when silence inside [start, end] was removed (audio/speech-spans.ts): the stretches, in
   * original seconds, whose audio is laid end to end and sent to inference as this chunk.
   */
  pieces?: { start: number; end: number; sha256?: string }[];
  /** the previous chunk ends after this one starts (speech with no pause to cut at; the merge resolves it) */
  overlapsPrev?: boolean;
  /** the next chunk starts before this one ends */
  overlapsNext?: boolean;
}

export interface ChunkPlanOptions {
  sampleRate: number;
  /** Whisper's window: no chunk is longer (openai audio.py CHUNK_LENGTH = 30 s). */
  maxChunkSeconds: number;
  /** Do not cut before this, so chunks are not needlessly short. */
  minChunkSeconds: number;
  /** A pause this long counts as a silence to cut at. */
  minSilenceSeconds: number;
  /** Energy frame length (20 ms is the usual VAD frame). */
  frameSeconds: number;
}

export const DEFAULT_CHUNK_PLAN: ChunkPlanOptions = {
  sampleRate: 16000,
  maxChunkSeconds: 30,
  minChunkSeconds: 10,
  minSilenceSeconds: 0.3,
  frameSeconds: 0.02,
};

/**
 * Below this level no frame holds speech (-50 dBFS is a quiet room's noise floor). Whisper, fed pure
 * silence or faint noise, tends to hallucinate ("you", "Thank you."): such audio never reaches the model.
 */
export const SPEECH_FLOOR_DBFS = -50;
const VAD_FRAME_SAMPLES = 320; // 20 ms at 16 kHz

/** True when no 20 ms frame of 16 kHz audio rises above SPEECH_FLOOR_DBFS. */
export function isSilent(samples: Float32Array): boolean {
  const energy = frameEnergyDb(samples, VAD_FRAME_SAMPLES);
  for (let i = 0; i < energy.length; i++) if (energy[i] > SPEECH_FLOOR_DBFS) return false;
  return true;
}

/** Frame energies in dBFS, one per `frameSeconds` frame. */
export function frameEnergyDb(samples: Float32Array, frameLen: number): Float32Array {
  const n = Math.ceil(samples.length / frameLen);
  const out = new Float32Array(n);
  for (let f = 0; f < n; f++) {
    let s = 0;
    const a = f * frameLen;
    const b = Math.min(samples.length, a + frameLen);
    for (let i = a; i < b; i++) s += samples[i] * samples[i];
    const rms = Math.sqrt(s / Math.max(1, b - a));
    out[f] = 20 * Math.log10(rms + 1e-10);
  }
  return out;
}

/**
 * The level below which a frame is silence: 25 dB under the loud frames (90th percentile), kept
 * between -55 and -35 dBFS so that both quiet recordings and noisy rooms get a sensible threshold.
 */
export function silenceThresholdDb(energyDb: Float32Array): number {
  if (energyDb.length === 0) return -55;
  const sorted = Float32Array.from(energyDb).sort();
  const p90 = sorted[Math.min(sorted.length - 1, Math.floor(sorted.length * 0.9))];
  return Math.max(-55, Math.min(-35, p90 - 25));
}

/**
 * Plans chunks of ≤ maxChunkSeconds covering the whole audio without gaps or overlaps.
 * Each cut lies in the middle of the latest pause ≥ minSilenceSeconds within the allowed range; where
 * the speaker gives no pause, at the lowest-energy frame of the range's second half.
 * @param samples float32 PCM at `opts.sampleRate`
 */
export function planChunks(samples: Float32Array, opts: ChunkPlanOptions = DEFAULT_CHUNK_PLAN): ChunkSpan[] {
  const frameLen = Math.round(opts.frameSeconds * opts.sampleRate);
  const total = samples.length / opts.sampleRate;
  if (samples.length === 0) return [];
  const energy = frameEnergyDb(samples, frameLen);
  const threshold = silenceThresholdDb(energy);
  const fps = 1 / opts.frameSeconds;
  const minSilenceFrames = Math.max(1, Math.round(opts.minSilenceSeconds * fps));

  const chunks: ChunkSpan[] = [];
  let startFrame = 0;
  const totalFrames = energy.length;
  const maxFrames = Math.floor(opts.maxChunkSeconds * fps);
  while (startFrame < totalFrames) {
    const startS = startFrame / fps;
    if (total - startS <= opts.maxChunkSeconds) {
      chunks.push({ index: chunks.length, start: round3(startS), end: round3(total) });
      break;
    }
    const lo = startFrame + Math.floor(opts.minChunkSeconds * fps);
    const hi = startFrame + maxFrames; // exclusive upper bound for the cut frame
    let cut = -1;
    // latest silence run of ≥ minSilenceFrames inside [lo, hi)
    let runEnd = -1;
    for (let f = hi - 1; f >= lo; f--) {
      if (energy[f] < threshold) {
        if (runEnd < 0) runEnd = f;
        if (runEnd - f + 1 >= minSilenceFrames && (f === lo || energy[f - 1] >= threshold)) {
          cut = Math.floor((f + runEnd + 1) / 2);
          break;
        }
      } else {
        if (runEnd >= 0 && runEnd - f >= minSilenceFrames) {
          cut = Math.floor((f + 1 + runEnd + 1) / 2);
          break;
        }
        runEnd = -1;
      }
    }
    if (cut < 0) {
      let best = Infinity;
      const from = startFrame + Math.floor(maxFrames / 2);
      for (let f = from; f < hi; f++) {
        if (energy[f] < best) {
          best = energy[f];
          cut = f;
        }
      }
    }
    if (cut <= startFrame) cut = hi;
    chunks.push({ index: chunks.length, start: round3(startS), end: round3(cut / fps) });
    startFrame = cut;
  }
  return chunks;
}

function round3(x: number): number {
  return Math.round(x * 1000) / 1000;
}
