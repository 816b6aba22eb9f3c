/**
 * Speech spans from Silero VAD speech probabilities (one per 512-sample frame at 16 kHz), as
 * faster-whisper's `get_speech_timestamps` (faster_whisper/vad.py, adapted there from snakers4/silero-vad
 * utils_vad.py) turns them into spans. Pure and browser-safe; unit-tested. The model run that makes the
 * probabilities is audio/silero-vad.ts.
 */

/** Samples per Silero VAD frame at 16 kHz (utils_vad.py `num_samples = 512 if sr == 16000`). */
export const VAD_FRAME_SAMPLES = 512;
/** Silero VAD runs at 16 kHz here (the model also takes 8 kHz; Whisper's input is 16 kHz). */
export const VAD_SAMPLE_RATE = 16000;
/** Seconds per frame (32 ms). */
export const VAD_FRAME_SECONDS = VAD_FRAME_SAMPLES / VAD_SAMPLE_RATE;

/** faster-whisper `VadOptions` (vad.py), in milliseconds and seconds as there. */
export interface VadOptions {
  /** a frame is speech at or above this probability (VadOptions.threshold = 0.5) */
  threshold: number;
  /** below this a frame is always silence; between the two it continues speech (null = max(threshold − 0.15, 0.01), vad.py) */
  negThreshold: number | null;
  /**
   * spans shorter than this are dropped. faster-whisper 1.1.0 sets 0; silero-vad's own
   * `get_speech_timestamps` (utils_vad.py) 250, which we take: a click or a cough of a few frames is not
   * sent to the model (Whisper invents words on such blips) nor billed.
   */
  minSpeechDurationMs: number;
  /** a span longer than this is split at its last ≥ 98 ms silence, else hard (vad.py); Infinity = never */
  maxSpeechDurationS: number;
  /**
   * a span ends only after this much silence (vad.py default 2000 ms, faster-whisper's sequential
   * `transcribe`): shorter pauses stay inside the span, for the model to hear and time.
   */
  minSilenceDurationMs: number;
  /** each span is widened by this on both sides, or by half the gap to its neighbour when that is shorter (vad.py default 400 ms) */
  speechPadMs: number;
}

/** faster-whisper 1.1.0 `VadOptions` defaults, except min_speech_duration_ms (silero-vad's 250; see above). */
export const DEFAULT_VAD: VadOptions = {
  threshold: 0.5,
  negThreshold: null,
  minSpeechDurationMs: 250,
  maxSpeechDurationS: Infinity,
  minSilenceDurationMs: 2000,
  speechPadMs: 400,
};

/** A speech span, in samples of the 16 kHz audio [start, end). */
export interface SampleSpan {
  start: number;
  end: number;
}

/** vad.py: `neg_threshold = max(threshold - 0.15, 0.01)` when not given. */
export function negThresholdOf(opts: VadOptions): number {
  return opts.negThreshold ?? Math.max(opts.threshold - 0.15, 0.01);
}

/**
 * faster-whisper `get_speech_timestamps` (vad.py) on precomputed probabilities: hysteresis between
 * `threshold` and `negThreshold`, spans closed after `minSilenceDurationMs` of silence, split past
 * `maxSpeechDurationS`, spans shorter than `minSpeechDurationMs` dropped, then padded by `speechPadMs`
 * (half the gap when neighbours are closer than two pads).
 * @param probs speech probability per 512-sample frame (frame i covers samples [512 i, 512 i + 512))
 * @param audioSamples length of the audio in samples (the last frame may be zero-padded past it)
 * @returns spans in samples, ordered and disjoint, within [0, audioSamples]
 */
export function speechTimestamps(probs: ArrayLike<number>, audioSamples: number, opts: VadOptions = DEFAULT_VAD): SampleSpan[] {
  const sr = VAD_SAMPLE_RATE;
  const window = VAD_FRAME_SAMPLES;
  const threshold = opts.threshold;
  const negThreshold = negThresholdOf(opts);
  const minSpeechSamples = (sr * opts.minSpeechDurationMs) / 1000;
  const speechPadSamples = (sr * opts.speechPadMs) / 1000;
  const maxSpeechSamples = sr * opts.maxSpeechDurationS - window - 2 * speechPadSamples;
  const minSilenceSamples = (sr * opts.minSilenceDurationMs) / 1000;
  // vad.py: `min_silence_samples_at_max_speech = sampling_rate * 98 / 1000`
  const minSilenceSamplesAtMaxSpeech = (sr * 98) / 1000;

  let triggered = false;
  const speeches: SampleSpan[] = [];
  let current: { start?: number; end?: number } = {};
  let tempEnd = 0;
  let prevEnd = 0;
  let nextStart = 0;
  for (let i = 0; i < probs.length; i++) {
    const p = probs[i];
    const at = window * i;
    if (p >= threshold && tempEnd) {
      tempEnd = 0;
      if (nextStart < prevEnd) nextStart = at;
    }
    if (p >= threshold && !triggered) {
      triggered = true;
      current.start = at;
      continue;
    }
    if (triggered && at - current.start! > maxSpeechSamples) {
      if (prevEnd) {
        speeches.push({ start: current.start!, end: prevEnd });
        current = {};
        if (nextStart < prevEnd) triggered = false;
        else current.start = nextStart;
        prevEnd = nextStart = tempEnd = 0;
      } else {
        speeches.push({ start: current.start!, end: at });
        current = {};
        prevEnd = nextStart = tempEnd = 0;
        triggered = false;
        continue;
      }
    }
    if (p < negThreshold && triggered) {
      if (!tempEnd) tempEnd = at;
      if (at - tempEnd > minSilenceSamplesAtMaxSpeech) prevEnd = tempEnd;
      if (at - tempEnd < minSilenceSamples) continue;
      if (tempEnd - current.start! > minSpeechSamples) speeches.push({ start: current.start!, end: tempEnd });
      current = {};
      prevEnd = nextStart = tempEnd = 0;
      triggered = false;
      continue;
    }
  }
  if (current.start !== undefined && audioSamples - current.start > minSpeechSamples) {
    speeches.push({ start: current.start, end: audioSamples });
  }
  for (let i = 0; i < speeches.length; i++) {
    const s = speeches[i];
    if (i === 0) s.start = Math.trunc(Math.max(0, s.start - speechPadSamples));
    if (i !== speeches.length - 1) {
      const next = speeches[i + 1];
      const silence = next.start - s.end;
      if (silence < 2 * speechPadSamples) {
        s.end += Math.trunc(Math.floor(silence / 2));
        next.start = Math.trunc(Math.max(0, next.start - Math.floor(silence / 2)));
      } else {
        s.end = Math.trunc(Math.min(audioSamples, s.end + speechPadSamples));
        next.start = Math.trunc(Math.max(0, next.start - speechPadSamples));
      }
    } else {
      s.end = Math.trunc(Math.min(audioSamples, s.end + speechPadSamples));
    }
  }
  return speeches;
}

/**
 * Stretches of non-speech inside [fromFrame, toFrame): runs of frames with probability below the
 * negative threshold (vad.py's silence), as frame ranges. Chunk planning cuts in the middle of one.
 */
export function silentRuns(probs: ArrayLike<number>, fromFrame: number, toFrame: number, opts: VadOptions = DEFAULT_VAD): { start: number; end: number }[] {
  const neg = negThresholdOf(opts);
  const runs: { start: number; end: number }[] = [];
  let open = -1;
  const hi = Math.min(toFrame, probs.length);
  for (let f = Math.max(0, fromFrame); f <= hi; f++) {
    const silent = f < hi && probs[f] < neg;
    if (silent && open < 0) open = f;
    if (!silent && open >= 0) {
      runs.push({ start: open, end: f });
      open = -1;
    }
  }
  return runs;
}
