/**
 * The chunk of audio a job is cut into (planned by audio/speech-spans.ts over Silero VAD speech), and the
 * energy floor the engine still applies per window (engine/transcriber.ts): a window of digital silence is never
 * worth an encoder run. Every chunk holds VAD speech (in the service and on the privacy-mode page), so the floor must
 * sit under the quietest speech the VAD keeps (SPEECH_FLOOR_DBFS).
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
 * Below this level no frame holds speech worth decoding: a window whose every 20 ms frame is under it (digital silence,
 * 16-bit dither at about -96 dBFS) never reaches the model. It sits under the quietest speech the VAD now finds
 * (audio/vad-gain.ts raises a window peaking at VAD_TARGET_PEAK / VAD_MAX_GAIN = -66 dBFS fully; a 20 ms frame's RMS
 * lies 3 dB (a sine) to 12 dB (speech) under its peak: -78 dBFS). It was -50 dBFS ("a quiet room's noise floor"),
 * which emptied the transcript of jfk at -50 dBFS peak (loudest frame -56 dBFS) after the VAD had kept all 11 s.
 * Whisper on what passes is guarded by its own no-speech rule: tiny.en gave no text on white noise at -55, -65 and
 * -75 dBFS RMS nor on zeros, and jfk's words at -40 … -70 dBFS peak, with no floor at all (.scratch measurement,
 * reported with the change).
 */
export const SPEECH_FLOOR_DBFS = -80;
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
