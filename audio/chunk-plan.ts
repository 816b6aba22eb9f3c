/**
 * The chunk of audio a job is cut into (planned by audio/speech-spans.ts over Silero VAD speech), and the
 * energy floor the engine still applies per window (engine/transcriber.ts): the in-browser engine of
 * privacy mode has no VAD, and a window of digital silence or faint hum is never worth an encoder run.
 * In the service every chunk holds VAD speech, so the floor rarely decides anything there.
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

/**
 * Below this level no frame holds speech (-50 dBFS is a quiet room's noise floor). Whisper, fed pure
 * silence or faint noise, tends to hallucinate ("you", "Thank you."): such audio never reaches the model.
 */
export const SPEECH_FLOOR_DBFS = -50;
const ENERGY_FRAME_SAMPLES = 320; // 20 ms at 16 kHz

/** True when no 20 ms frame of 16 kHz audio rises above SPEECH_FLOOR_DBFS. */
export function isSilent(samples: Float32Array): boolean {
  const energy = frameEnergyDb(samples, ENERGY_FRAME_SAMPLES);
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
