/**
 * The level of Silero VAD's input (never Whisper's): quiet audio is raised before the VAD scores it, so that speech
 * recorded quietly is not dropped as non-speech. Pure and browser-safe (the privacy-mode page runs it too).
 *
 * Why: Silero VAD v5's speech probability depends on the level of its input. Its authors made it so on purpose
 * ("the newer VAD tries to suppress spurious activations with subtle speech in the background", snakers4/silero-vad
 * issue #396), and faster-whisper 1.1.0 feeds it the samples as decoded (vad.py get_speech_timestamps: no gain).
 * Measured here on jfk.wav (peak −2.1 dBFS, 11.0 s of speech by the VAD): the same file 8 dB quieter (peak −10 dBFS)
 * loses "ask not" (8.3 s), at −45 dBFS peak nothing is left, while Whisper, which normalises its log-mel to the
 * window's own maximum (openai/whisper audio.py log_mel_spectrogram: `max(log_spec, log_spec.max() - 8.0)`),
 * transcribes every level (faster-whisper 1.1.0 without its VAD: jfk's text at −45, −50, −55 dBFS peak, WER 13.6 %,
 * 0 %, 0 %; with `vad_filter=True`, its Silero pass as ours, nothing).
 * A lone speaker on one channel of a 9–16-channel file, downmixed by the mean, comes out 19–24 dB lower the same way.
 *
 * The rule: one gain per 30 s window of the stream (the window Whisper normalises over), from the window's sample peak:
 * a window that peaks below {@link VAD_TARGET_PEAK} is scaled to peak there, by at most {@link VAD_MAX_GAIN}; a window
 * at or above it is passed unchanged (bit for bit: normal-level audio gets the spans it always got). A constant gain
 * per window keeps the relation between a window's loudest sound and the rest, which is what Silero uses to tell a
 * foreground voice from background speech; the window's loudest sound decides, so nothing is made louder than a
 * normal recording. Stationary noise is not lifted into speech: pink, brown and white noise scored at most 0.12
 * (threshold 0.5) at every level from −60 dBFS to full scale.
 * ffmpeg's dynaudnorm is the nearest kept filter (a gain per 500 ms frame towards the peak `p` = 0.95, at most `m` = 10,
 * range 1–100, smoothed by a 31-frame Gaussian: ffmpeg filters.texi). Not used: its gain moves inside a recording (it
 * lifts pauses between sentences, and with p = 0.95 it changes the VAD input of nearly every normal file), its most,
 * 40 dB, is under the 44 dB jfk at −50 dBFS peak needs, and the VAD input would need a second ffmpeg output beside the
 * PCM file's (Whisper's input must stay as decoded), while the privacy-mode page and bench/eval-wer.ts run the VAD on
 * PCM without ffmpeg.
 */

/** Samples per gain window: 30 s at 16 kHz, Whisper's window (openai audio.py CHUNK_LENGTH) and preparation's block. */
export const VAD_GAIN_WINDOW_SAMPLES = 30 * 16000;

/**
 * The peak a quiet window is raised to: 0.5 (−6 dBFS). Measured (Silero v5 as shipped, threshold 0.5): jfk.wav's speech
 * seconds do not depend on its level at peaks of −1, −4 and −7 dBFS (11.00 s each) and fall from −10 dBFS down (8.28 s);
 * clean speech (stereo_diarization's channels, an espeak-ng sentence) keeps its spans to within 0.3 s from −1 down to
 * −46 dBFS. So a window raised to −6 dBFS is where detection no longer depends on level, and the target is as low as
 * that allows, to change as little normal audio as possible: jfk.wav (peak −2.1) is passed bit for bit;
 * stereo_diarization's mono downmix (peak −7.9) is raised 1.9 dB, with the same spans (bench/vad-compare.ts).
 */
export const VAD_TARGET_PEAK = 0.5;

/**
 * The most a window is raised: 1000× (60 dB), so a window peaking at −66 dBFS or above reaches the target. Where it
 * binds: 16-bit audio's quantisation floor (about −101 dBFS RMS) stays at or below −41 dBFS RMS after it, under room
 * noise, and digital near-silence (issue #396: v4/v5 "known issue with near zero signals") is not made loud.
 */
export const VAD_MAX_GAIN = 1000;

/** Largest absolute sample (0 for an empty block). */
export function samplePeak(samples: ArrayLike<number>): number {
  let peak = 0;
  for (let i = 0; i < samples.length; i++) {
    const a = Math.abs(samples[i]);
    if (a > peak) peak = a;
  }
  return peak;
}

/**
 * The VAD input gain of a window with sample peak `peak` (linear, 1 = full scale): 1 at or above `target`, else
 * `target / peak` capped at `maxGain` (a window of digital silence, peak 0, gets `maxGain`: zeros stay zeros).
 * @returns a linear factor in [1, maxGain]
 */
export function vadInputGain(peak: number, target = VAD_TARGET_PEAK, maxGain = VAD_MAX_GAIN): number {
  if (!(peak < target)) return 1;
  return Math.min(maxGain, target / peak);
}

/**
 * Cuts a stream of 16 kHz mono samples into gain windows of `windowSamples` (aligned to the stream's start, whatever
 * blocks the caller pushes) and hands each out scaled by its vadInputGain. Memory: one window (30 s = 1.9 MB).
 * Blocks that are whole windows, aligned (preparation's 30 s blocks), come out at once; others when their window fills.
 */
export class VadGainWindows {
  private window: Float32Array;
  private filled = 0;
  /** the gain of each window handed out, in order (for logs and tests) */
  readonly gains: number[] = [];

  constructor(private readonly windowSamples = VAD_GAIN_WINDOW_SAMPLES) {
    if (!(windowSamples >= 1)) throw new RangeError(`windowSamples must be at least 1, got ${windowSamples}`);
    this.window = new Float32Array(windowSamples);
  }

  /** The windows `block` completes, scaled (new arrays; `block` is not changed). */
  push(block: Float32Array): Float32Array[] {
    const out: Float32Array[] = [];
    let at = 0;
    while (at < block.length) {
      const n = Math.min(block.length - at, this.windowSamples - this.filled);
      this.window.set(block.subarray(at, at + n), this.filled);
      this.filled += n;
      at += n;
      if (this.filled === this.windowSamples) {
        out.push(this.scale(this.window));
        this.window = new Float32Array(this.windowSamples);
        this.filled = 0;
      }
    }
    return out;
  }

  /** The last, partial window, scaled by its own peak; null when none is pending. */
  end(): Float32Array | null {
    const rest = this.filled > 0 ? this.scale(this.window.subarray(0, this.filled)) : null;
    this.filled = 0;
    return rest;
  }

  /** Samples pushed but not yet handed out (a partial window). */
  get pending(): number {
    return this.filled;
  }

  private scale(w: Float32Array): Float32Array {
    const g = vadInputGain(samplePeak(w));
    this.gains.push(g);
    if (g === 1) return w.slice();
    const out = new Float32Array(w.length);
    for (let i = 0; i < w.length; i++) out[i] = w[i] * g;
    return out;
  }
}

/** What VadGainStream wraps: a VAD stream (audio/silero-vad-stream.ts SileroVadStream). */
export interface ProbabilityStream {
  push(block: Float32Array): Promise<Float32Array>;
  finish(): Promise<Float32Array>;
}

/**
 * A VAD stream whose input is levelled by VadGainWindows: the same push/finish contract (probabilities per
 * 512-sample frame, in order), delayed to the end of each 30 s window when the caller's blocks are not whole windows.
 */
export class VadGainStream implements ProbabilityStream {
  private readonly windows: VadGainWindows;

  constructor(
    private readonly inner: ProbabilityStream,
    windowSamples = VAD_GAIN_WINDOW_SAMPLES,
  ) {
    this.windows = new VadGainWindows(windowSamples);
  }

  /** the gains applied so far, one per window */
  get gains(): readonly number[] {
    return this.windows.gains;
  }

  async push(block: Float32Array): Promise<Float32Array> {
    const parts: Float32Array[] = [];
    for (const w of this.windows.push(block)) parts.push(await this.inner.push(w));
    return concat(parts);
  }

  async finish(): Promise<Float32Array> {
    const rest = this.windows.end();
    const parts = rest ? [await this.inner.push(rest)] : [];
    parts.push(await this.inner.finish());
    return concat(parts);
  }
}

function concat(parts: Float32Array[]): Float32Array {
  if (parts.length === 1) return parts[0];
  const out = new Float32Array(parts.reduce((n, p) => n + p.length, 0));
  let at = 0;
  for (const p of parts) {
    out.set(p, at);
    at += p.length;
  }
  return out;
}
