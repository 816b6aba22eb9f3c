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
import { concatSamples } from './speech-spans';

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

/** Samples per running-level frame: Silero VAD's frame (audio/vad.ts VAD_FRAME_SAMPLES, 32 ms at 16 kHz). */
export const VAD_RUNNING_FRAME_SAMPLES = 512;

/**
 * How long each frame's peak is held in a live stream's running peak, seconds: a file's gain window
 * (VAD_GAIN_WINDOW_SAMPLES, Whisper's 30 s), so the loudest sound of the last 30 s decides, as the loudest of its
 * 30 s window decides for a file. Why not shorter: a pause is then raised, and its room noise with it; white noise
 * raised to a −6 dBFS peak is louder in RMS than speech at that peak (its crest factor is about 10 dB, speech's
 * about 20), and Silero, having heard it, scores the speech after it lower. Measured (jfk, a pause of room noise at
 * −60 dBFS RMS, jfk again, at its own level, 100 ms blocks, the live segmenter's finals): a pause longer than the
 * hold loses part of the second jfk's 10.2 s of speech ("ask not what your country…"): with a 1 s hold 3.3 s after
 * a 5 s pause, 4.7 s after 10 s, 8.1 s after 25 s; with 5 s, 2.0 s after 10 s and 8.0 s after 25 s; with 10 s, 2.0 s
 * after 25 s; with 30 s, nothing after any of them (a pause of digital silence loses nothing at any hold: zeros stay
 * zeros). The price: quiet speech that follows a loud sound (one that lasts, see VAD_RUNNING_SUSTAIN_FRAMES) is raised
 * only once that sound is 30 s old, then as the release allows: jfk at −50 dBFS 1 s after a 300 ms full-scale noise
 * burst gives no finals; 31 s after it, finals from 1.3 s into the file on (alone: from 0.02 s).
 */
export const VAD_RUNNING_HOLD_SECONDS = VAD_GAIN_WINDOW_SAMPLES / 16000;

/**
 * How fast a peak falls once its hold is over, dB per second: a digital peak programme meter's return, 20 dB in
 * 1.7 s, about 11.8 dB/s (IEC TR 60268-18:1995, digital audio peak level meter: "The return time shall be 1,7 s ±
 * 0,3 s if the lower point is 20 dB below reference indication", as quoted in flumotion's doc/random/vumeter). A meter's return is slow enough that the level does not
 * follow single syllables and fast enough to follow a programme: from a full-scale sound to the 44 dB that jfk at
 * −50 dBFS peak needs takes 3.7 s after the hold.
 */
export const VAD_RUNNING_RELEASE_DB_PER_SECOND = 20 / 1.7;

/**
 * Frames a peak must last to be held, 3 (96 ms): a frame's peak counts for the hold only as far as the two frames
 * before it reached it too, so a click or a pop of up to 64 ms (a microphone plugged in, bumped or tapped) is not held
 * for 30 s over the quiet speech after it; a voice's level lasts longer than that (a syllable is about 200 ms at 4–5
 * syllables per second), so speech is held as it peaks over 96 ms. The click's own frames are still never raised over
 * the target. Measured (100 ms blocks, the live segmenter): a full-scale 50 ms click, then jfk at −50 dBFS at once:
 * finals from 0.08 s (with every peak held: none for 30 s); jfk at its own level: 11 frames raised either way.
 */
export const VAD_RUNNING_SUSTAIN_FRAMES = 3;

/**
 * The causal VAD input level of a live stream (GET /v1/listen), where a 30 s window (VadGainWindows) would hold
 * every final back: each 512-sample frame, aligned to the stream's start, is scaled by vadInputGain of the stream's
 * running peak, the same target and cap as a file's windows. The running peak is the largest of: this frame's own
 * peak (instant attack, so no frame is ever raised over VAD_TARGET_PEAK); the largest sustained peak of the last
 * `holdSeconds` (a frame's sustained peak: the least peak of it and the VAD_RUNNING_SUSTAIN_FRAMES − 1 frames before
 * it); an older sustained peak fallen by `releaseDbPerSecond` since its hold ended (a loud sound's effect fades rather
 * than ending at once). The first frames of a stream have no history: their own peaks decide.
 *
 * No added latency: Silero scores whole 512-sample frames only (audio/silero-vad-stream.ts), so a frame's gain is
 * known, from its own samples and the ones before, when the VAD can first score it; the samples of a frame not yet
 * whole wait here instead of in the VAD stream. The output does not depend on how the caller cuts its blocks.
 * Frames whose running peak is at or above the target are passed bit for bit; a normal-level stream's quiet lead-in
 * before its first loud sound is raised (jfk: its first 0.35 s, by up to 29 dB; Silero's state carries it on, so of
 * its live finals the first starts one 32 ms frame earlier, 0.00 s for 0.02 s, words the same; with 2 s of room
 * noise and jfk again after it, that second jfk's "ask not" final starts at 16.31 s for 16.05 s). Memory: one frame
 * and the peaks of at most `holdSeconds` of frames (938), in arrays compacted past 1024 dropped entries.
 */
export class VadRunningLevel {
  private readonly frame = new Float32Array(VAD_RUNNING_FRAME_SAMPLES);
  private filled = 0;
  /** the own peaks of the last VAD_RUNNING_SUSTAIN_FRAMES frames (a ring, by frame index) */
  private readonly recent = new Float64Array(VAD_RUNNING_SUSTAIN_FRAMES);
  /**
   * The sustained peaks still held, a sliding-window maximum (monotonic queue: frame indices and peaks, each peak larger than
   * every later one), from `head` on; a peak older than the hold moves to `released`.
   */
  private qFrame: number[] = [];
  private qPeak: number[] = [];
  private head = 0;
  /** the largest peak past its hold, fallen by the release since (0 when none) */
  private released = 0;
  private readonly holdFrames: number;
  /** the released peak's factor per frame */
  private readonly releasePerFrame: number;
  /** frames handed out, and how many of them were raised (gain over 1) */
  frames = 0;
  raisedFrames = 0;
  /** the gain of the last frame handed out (1 before any) */
  lastGain = 1;

  /**
   * @param holdSeconds how long each frame's peak is held (default VAD_RUNNING_HOLD_SECONDS)
   * @param releaseDbPerSecond how fast it falls after (default VAD_RUNNING_RELEASE_DB_PER_SECOND)
   * @param sampleRate of the samples pushed, Hz (16 kHz: the VAD's)
   * @throws RangeError on a hold or release that is negative or not finite
   */
  constructor(
    holdSeconds = VAD_RUNNING_HOLD_SECONDS,
    releaseDbPerSecond = VAD_RUNNING_RELEASE_DB_PER_SECOND,
    sampleRate = 16000,
  ) {
    if (!(holdSeconds >= 0 && Number.isFinite(holdSeconds))) throw new RangeError(`holdSeconds must be finite and at least 0, got ${holdSeconds}`);
    if (!(releaseDbPerSecond >= 0 && Number.isFinite(releaseDbPerSecond))) throw new RangeError(`releaseDbPerSecond must be finite and at least 0, got ${releaseDbPerSecond}`);
    const frameSeconds = VAD_RUNNING_FRAME_SAMPLES / sampleRate;
    this.holdFrames = Math.round(holdSeconds / frameSeconds);
    this.releasePerFrame = 10 ** (-(releaseDbPerSecond * frameSeconds) / 20);
  }

  /**
   * The whole frames `block` completes, scaled, in one new array (`block` is not changed); the samples of a frame not
   * yet whole are kept for the next call (at most 511).
   */
  push(block: Float32Array): Float32Array {
    const whole = Math.floor((this.filled + block.length) / VAD_RUNNING_FRAME_SAMPLES);
    const out = new Float32Array(whole * VAD_RUNNING_FRAME_SAMPLES);
    let at = 0;
    let o = 0;
    while (at < block.length) {
      const n = Math.min(block.length - at, VAD_RUNNING_FRAME_SAMPLES - this.filled);
      this.frame.set(block.subarray(at, at + n), this.filled);
      this.filled += n;
      at += n;
      if (this.filled === VAD_RUNNING_FRAME_SAMPLES) {
        this.scaleInto(this.frame, out, o);
        o += VAD_RUNNING_FRAME_SAMPLES;
        this.filled = 0;
      }
    }
    return out;
  }

  /** The last, partial frame, scaled as a frame of its own; null when none is pending. */
  end(): Float32Array | null {
    if (this.filled === 0) return null;
    const out = new Float32Array(this.filled);
    this.scaleInto(this.frame.subarray(0, this.filled), out, 0);
    this.filled = 0;
    return out;
  }

  /** Samples pushed but not yet handed out (a partial frame). */
  get pending(): number {
    return this.filled;
  }

  private scaleInto(frame: Float32Array, out: Float32Array, at: number): void {
    const m = this.frames;
    const own = samplePeak(frame);
    this.recent[m % VAD_RUNNING_SUSTAIN_FRAMES] = own;
    // the level this frame sustained with the ones before it (a stream's first frames: none yet)
    const p = m + 1 >= VAD_RUNNING_SUSTAIN_FRAMES ? Math.min(...this.recent) : 0;
    // Age what is held by this frame's 32 ms: the released peak falls, peaks past their hold join it.
    this.released *= this.releasePerFrame;
    while (this.head < this.qFrame.length && m - this.qFrame[this.head] > this.holdFrames) {
      this.released = Math.max(this.released, this.qPeak[this.head] * this.releasePerFrame ** (m - this.qFrame[this.head] - this.holdFrames));
      this.head++;
    }
    // This frame's sustained peak joins (a later peak as large makes an earlier one irrelevant: it is held longer).
    while (this.qFrame.length > this.head && this.qPeak[this.qPeak.length - 1] <= p) {
      this.qFrame.pop();
      this.qPeak.pop();
    }
    this.qFrame.push(m);
    this.qPeak.push(p);
    if (this.head > 1024 && this.head * 2 > this.qFrame.length) {
      this.qFrame = this.qFrame.slice(this.head);
      this.qPeak = this.qPeak.slice(this.head);
      this.head = 0;
    }
    const g = vadInputGain(Math.max(own, this.qPeak[this.head], this.released));
    this.frames++;
    this.lastGain = g;
    if (g === 1) {
      out.set(frame, at);
      return;
    }
    this.raisedFrames++;
    for (let i = 0; i < frame.length; i++) out[at + i] = frame[i] * g;
  }
}

/**
 * A VAD stream whose input is levelled by VadRunningLevel (live streams): the same push/finish contract as the
 * wrapped stream, with no delay (a push returns the probabilities of the frames it completed, as unwrapped).
 */
export class VadRunningGainStream implements ProbabilityStream {
  readonly level: VadRunningLevel;

  constructor(
    private readonly inner: ProbabilityStream,
    level: VadRunningLevel = new VadRunningLevel(),
  ) {
    this.level = level;
  }

  async push(block: Float32Array): Promise<Float32Array> {
    const frames = this.level.push(block);
    return frames.length > 0 ? this.inner.push(frames) : new Float32Array(0);
  }

  async finish(): Promise<Float32Array> {
    const rest = this.level.end();
    const parts = rest ? [await this.inner.push(rest)] : [];
    parts.push(await this.inner.finish());
    return concatSamples(parts);
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
    return concatSamples(parts);
  }

  async finish(): Promise<Float32Array> {
    const rest = this.windows.end();
    const parts = rest ? [await this.inner.push(rest)] : [];
    parts.push(await this.inner.finish());
    return concatSamples(parts);
  }
}

