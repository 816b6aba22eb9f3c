/**
 * Whisper log-mel front end: 16 kHz mono PCM -> [nMels, 3000] normalised log-mel features for one
 * 30 s encoder window.
 *
 * Reproduces openai/whisper `whisper/audio.py` `log_mel_spectrogram` and, to float32 precision,
 * HF transformers `WhisperFeatureExtractor._np_extract_fbank_features` (the NumPy path, which computes
 * the STFT and mel projection in float64 and casts the log-mel to float32; this module does the same).
 *
 * Browser-safe: no Node imports.
 */

import {
  HOP_LENGTH,
  LOG_MEL_DYNAMIC_RANGE,
  LOG_MEL_FLOOR,
  LOG_MEL_OFFSET,
  LOG_MEL_SCALE,
  MEL_FMIN_HZ,
  N_FFT,
  N_FRAMES,
  N_MELS,
  N_SAMPLES,
  SAMPLE_RATE,
} from './constants';
import { type RealArray, RealFft } from './fft';

// Bound once at module scope for the per-frame loop: in a sandboxed realm (a Node `vm` context, which is
// how Jest runs tests) every global lookup such as `Math` goes through an interceptor that V8 cannot
// optimise, which made `compute` ~5x slower there. Module-scope bindings are plain closure slots.
const { fround, log10, max } = Math;

// Slaney's mel scale (Auditory Toolbox; librosa `hz_to_mel(htk=False)`, HF `hertz_to_mel(mel_scale="slaney")`):
// linear below 1 kHz, logarithmic above, continuous at the break.

/** Width of one mel in the linear region, in Hz: 200/3 Hz per mel (i.e. mel = 3 * f / 200). */
const SLANEY_HZ_PER_MEL_NUM = 200;
const SLANEY_HZ_PER_MEL_DEN = 3;
/** Frequency where the scale switches from linear to logarithmic, in Hz. */
const SLANEY_MIN_LOG_HZ = 1000;
/** Mel value at SLANEY_MIN_LOG_HZ: 1000 * 3 / 200. */
const SLANEY_MIN_LOG_MEL = 15;
/** Log region step: 27 mels per factor 6.4 in frequency (librosa `logstep = np.log(6.4) / 27.0`). */
const SLANEY_LOG_RATIO = 6.4;
const SLANEY_MELS_PER_LOG_RATIO = 27;

/** Slaney normalisation: each triangle is scaled by 2 / (upper edge - lower edge) so it has unit area in Hz. */
const SLANEY_AREA_NORM = 2;

/**
 * Hz -> mel on the Slaney scale. Operation order follows HF `hertz_to_mel` so values agree to the last bit.
 * @param hz frequency in Hz (>= 0)
 */
export function hzToMelSlaney(hz: number): number {
  if (hz >= SLANEY_MIN_LOG_HZ) {
    const logStep = SLANEY_MELS_PER_LOG_RATIO / Math.log(SLANEY_LOG_RATIO);
    return SLANEY_MIN_LOG_MEL + Math.log(hz / SLANEY_MIN_LOG_HZ) * logStep;
  }
  return (SLANEY_HZ_PER_MEL_DEN * hz) / SLANEY_HZ_PER_MEL_NUM;
}

/**
 * Mel -> Hz on the Slaney scale (inverse of `hzToMelSlaney`), operation order as HF `mel_to_hertz`.
 * @param mel mel value (>= 0)
 */
export function melToHzSlaney(mel: number): number {
  if (mel >= SLANEY_MIN_LOG_MEL) {
    const logStep = Math.log(SLANEY_LOG_RATIO) / SLANEY_MELS_PER_LOG_RATIO;
    return SLANEY_MIN_LOG_HZ * Math.exp(logStep * (mel - SLANEY_MIN_LOG_MEL));
  }
  return (SLANEY_HZ_PER_MEL_NUM * mel) / SLANEY_HZ_PER_MEL_DEN;
}

/**
 * Mel filter bank in float64, shape [nMels, nFft/2 + 1] row-major (row m = weights of mel band m over
 * the one-sided FFT bins). See `melFilterBank`.
 */
function melFilterBank64(nMels: number, nFft: number, sampleRate: number): Float64Array {
  const nBins = Math.floor(nFft / 2) + 1;
  const fMax = sampleRate / 2;
  // nMels + 2 band edges evenly spaced in mel (np.linspace: start + i * step, last point exactly stop).
  const melMin = hzToMelSlaney(MEL_FMIN_HZ);
  const melMax = hzToMelSlaney(fMax);
  const nEdges = nMels + 2;
  const melStep = (melMax - melMin) / (nEdges - 1);
  const edgesHz = new Float64Array(nEdges);
  for (let i = 0; i < nEdges; i++) {
    edgesHz[i] = melToHzSlaney(i === nEdges - 1 ? melMax : melMin + i * melStep);
  }
  const weights = new Float64Array(nMels * nBins);
  for (let m = 0; m < nMels; m++) {
    const lower = edgesHz[m];
    const centre = edgesHz[m + 1];
    const upper = edgesHz[m + 2];
    const norm = SLANEY_AREA_NORM / (upper - lower);
    for (let k = 0; k < nBins; k++) {
      // Centre frequency of FFT bin k (np.fft.rfftfreq / librosa `fft_frequencies`).
      const hz = (k * sampleRate) / nFft;
      const rising = (hz - lower) / (centre - lower);
      const falling = (upper - hz) / (upper - centre);
      weights[m * nBins + k] = Math.max(0, Math.min(rising, falling)) * norm;
    }
  }
  return weights;
}

/**
 * Mel filter bank as Whisper uses it: `librosa.filters.mel(sr, n_fft, n_mels, htk=False, norm="slaney")`
 * (the source of openai/whisper `assets/mel_filters.npz`), equal to HF
 * `mel_filter_bank(..., min_frequency=0, max_frequency=sr/2, norm="slaney", mel_scale="slaney")` transposed.
 * Triangles on the Slaney mel scale from 0 Hz to sampleRate/2, each normalised to unit area in Hz.
 *
 * @returns Float32Array of shape [nMels, nFft/2 + 1], row-major; weights per FFT bin (unit 1/Hz).
 */
export function melFilterBank(
  nMels: number = N_MELS,
  nFft: number = N_FFT,
  sampleRate: number = SAMPLE_RATE,
): Float32Array {
  return Float32Array.from(melFilterBank64(nMels, nFft, sampleRate));
}

/**
 * Periodic Hann window, w[n] = 0.5 - 0.5 cos(2 pi n / N): `torch.hann_window(N)` (periodic by default)
 * and HF `window_function(N, "hann")` (= `np.hanning(N + 1)[:-1]`).
 * @returns Float64Array of shape [length].
 */
export function hannWindow(length: number): Float64Array {
  const w = new Float64Array(length);
  for (let n = 0; n < length; n++) w[n] = 0.5 - 0.5 * Math.cos((2 * Math.PI * n) / length);
  return w;
}

/** Options of `logMelSpectrogram`. */
export interface LogMelOptions {
  /** Mel bands: 80 for Whisper up to large-v2, 128 for large-v3. Default N_MELS (80). */
  nMels?: number;
  /** Preallocated output, Float32Array of length nMels * N_FRAMES; allocated when omitted. */
  out?: Float32Array;
}

/**
 * Precomputed state for Whisper log-mel extraction with a given number of mel bands: window, sparse
 * filter bank, FFT plan and per-frame scratch. Build once and reuse; `compute` allocates nothing when
 * given an output buffer. Not re-entrant (shared scratch buffers): one instance per thread/worker.
 */
export class LogMelExtractor {
  /** Mel bands (rows of the output). */
  readonly nMels: number;
  /** Frames per window (columns of the output): N_FRAMES = 3000. */
  readonly nFrames = N_FRAMES;
  /** Output length, nMels * nFrames. */
  readonly outputLength: number;

  private readonly fft = new RealFft(N_FFT);
  private readonly window = hannWindow(N_FFT);
  /** Windowed frame, [N_FFT]. */
  private readonly frame = new Float64Array(N_FFT);
  /** Power spectrum of the frame, [N_FFT/2 + 1]. */
  private readonly power: Float64Array;
  // Each mel triangle covers only a few FFT bins and each bin lies under at most two triangles (band m's rising
  // edge and band m - 1's falling one: the triangles span consecutive band edges), so the projection is stored by
  // bin: bin k adds power[k] * binWeightA[k] to band binBandA[k] and power[k] * binWeightB[k] to band binBandB[k]
  // (a bin under fewer triangles points its spare slots at the scratch band nMels). Two multiply-adds per bin in
  // one straight loop, ~400 per frame like the sparse band-major product, without its 80 short inner loops. Every
  // band still sums its bins in increasing k, the order of the band-major product, so the float64 sums are the same.
  private readonly binBandA: Int32Array;
  private readonly binBandB: Int32Array;
  private readonly binWeightA: Float64Array;
  private readonly binWeightB: Float64Array;
  /** Per-frame band energies, [nMels + 1] (the last one the scratch band). */
  private readonly energy: Float64Array;

  /** @throws RangeError when nMels is not a positive integer */
  constructor(nMels: number = N_MELS) {
    if (!Number.isInteger(nMels) || nMels < 1) throw new RangeError(`nMels must be a positive integer, got ${nMels}`);
    this.nMels = nMels;
    this.outputLength = nMels * N_FRAMES;
    const nBins = this.fft.bins;
    this.power = new Float64Array(nBins);
    this.energy = new Float64Array(nMels + 1);

    const dense = melFilterBank64(nMels, N_FFT, SAMPLE_RATE);
    this.binBandA = new Int32Array(nBins).fill(nMels);
    this.binBandB = new Int32Array(nBins).fill(nMels);
    this.binWeightA = new Float64Array(nBins);
    this.binWeightB = new Float64Array(nBins);
    const used = new Int32Array(nBins);
    for (let m = 0; m < nMels; m++) {
      const row = m * nBins;
      // the band's bins: its first to its last nonzero weight
      let first = 0;
      while (first < nBins && dense[row + first] === 0) first++;
      let last = nBins - 1;
      while (last >= first && dense[row + last] === 0) last--;
      for (let k = first; k <= last; k++) {
        if (used[k] === 0) {
          this.binBandA[k] = m;
          this.binWeightA[k] = dense[row + k];
        } else if (used[k] === 1) {
          this.binBandB[k] = m;
          this.binWeightB[k] = dense[row + k];
        } else {
          // unreachable for triangles on increasing edges; a filter bank built otherwise needs a general sparse product
          throw new RangeError(`mel filter bank: FFT bin ${k} lies under more than two bands`);
        }
        used[k]++;
      }
    }
  }

  /**
   * Normalised log-mel spectrogram of one 30 s window (openai/whisper audio.py `log_mel_spectrogram`
   * followed by Whisper's `pad_or_trim` to N_FRAMES; HF `WhisperFeatureExtractor.__call__` with its
   * defaults, padding="max_length", truncation=True):
   *
   * 1. `samples` is zero-padded or truncated to N_SAMPLES (480000 = 30 s).
   * 2. STFT with centre=True: the signal is reflect-padded by N_FFT/2 = 200 samples on both sides
   *    (numpy "reflect": the edge sample is not repeated), framed with N_FFT = 400, HOP_LENGTH = 160,
   *    multiplied by a periodic Hann window; power |X[k]|^2 for k = 0..200. That gives 3001 frames; the
   *    last is dropped (`stft[..., :-1]`), leaving N_FRAMES = 3000, frame t centred on sample 160 t.
   * 3. mel = filters @ power, floored at 1e-10, log10.
   * 4. Values below (window max - 8) are raised to it (80 dB dynamic range), then x -> (x + 4) / 4.
   *
   * @param samples mono PCM at 16 kHz, float in [-1, 1], any length (Float32Array[nSamples]).
   * @param out optional preallocated Float32Array[nMels * 3000]; allocated when omitted.
   * @returns `out`: Float32Array of shape [nMels, 3000] row-major (mel band-major, time contiguous), the
   *   layout of one item of the encoder input `[batch, nMels, 3000]`. Dimensionless.
   */
  compute(samples: RealArray, out?: Float32Array): Float32Array {
    const result = out ?? new Float32Array(this.outputLength);
    if (result.length !== this.outputLength) {
      const shape = `[${this.nMels}, ${N_FRAMES}]`;
      throw new RangeError(`log-mel output must have length ${this.outputLength} (${shape}), got ${result.length}`);
    }
    const { fft, window, frame, power, binBandA, binBandB, binWeightA, binWeightB, energy, nMels } = this;
    const nBins = power.length;
    const { re: packedRe, im: packedIm } = fft.packedInput();
    // Imported constants are copied into locals: compiled to CommonJS, each use of an imported binding is a
    // property read (a getter call under esbuild/swc), which costs more than the arithmetic in these loops.
    const nFrames = N_FRAMES;
    const nFft = N_FFT;
    const hop = HOP_LENGTH;
    const nSamples = N_SAMPLES;
    const melFloor = LOG_MEL_FLOOR;
    // Samples actually present after pad/trim to N_SAMPLES; positions [available, N_SAMPLES) are zeros.
    const available = Math.min(samples.length, nSamples);
    const halfFrame = nFft / 2;
    let maxLog = -Infinity;
    // the log-mel of a band with no energy, rounded to float32 as the output stores it
    const silentLog = Math.fround(log10(max(0, melFloor)));

    for (let t = 0; t < nFrames; t++) {
      const start = t * hop - halfFrame;
      if (start >= 0 && start + nFft <= available) {
        // Interior frame: no padding involved (all but the first 2 and the frames past the audio's end). The windowed
        // samples go straight into the FFT's packed input (even samples real, odd imaginary): the same values
        // `powerSpectrum` would pack from a frame, one pass fewer.
        for (let i = 0, j = start; i < halfFrame; i++, j += 2) {
          packedRe[i] = samples[j] * window[2 * i];
          packedIm[i] = samples[j + 1] * window[2 * i + 1];
        }
        fft.packedPowerSpectrum(power);
      } else {
        let audio = false;
        for (let j = 0; j < nFft; j++) {
          const idx = reflectIndex(start + j, nSamples);
          if (idx < available) {
            frame[j] = samples[idx] * window[j];
            audio = true;
          } else frame[j] = 0;
        }
        if (!audio) {
          // Every sample of the frame is padding (a window shorter than 30 s, past its end): its power is 0
          // in every bin, so each band's energy is 0 and its log-mel is log10(melFloor), exactly what the
          // FFT and projection below would produce. Skipping them makes a mostly padded window (the last of
          // a file, a short chunk) cost what its audio needs.
          if (silentLog > maxLog) maxLog = silentLog;
          for (let m = 0; m < nMels; m++) result[m * nFrames + t] = silentLog;
          continue;
        }
        fft.powerSpectrum(frame, power);
      }

      for (let k = 0; k < nBins; k++) {
        const p = power[k];
        energy[binBandA[k]] += binWeightA[k] * p;
        energy[binBandB[k]] += binWeightB[k] * p;
      }
      for (let m = 0; m < nMels; m++) {
        // float32, as the output stores it
        const value = fround(log10(max(energy[m], melFloor)));
        energy[m] = 0; // zeroed for the next frame as it is read
        result[m * nFrames + t] = value;
        // Max over the float32-rounded values, as HF takes it after casting the log-mel to float32.
        if (value > maxLog) maxLog = value;
      }
    }

    // Float32 arithmetic as in HF (`log_spec.max() - 8.0` is a float32 scalar); (x + 4) / 4 needs no
    // explicit rounding: x + 4 is exact in float64 and the division by a power of two is exact.
    const floor = Math.fround(maxLog - LOG_MEL_DYNAMIC_RANGE);
    const logOffset = LOG_MEL_OFFSET;
    const logScale = LOG_MEL_SCALE;
    for (let i = 0; i < result.length; i++) {
      const clamped = result[i] > floor ? result[i] : floor;
      result[i] = (clamped + logOffset) / logScale;
    }
    return result;
  }
}

/**
 * numpy/torch "reflect" padding index: position i of the padded signal maps to sample
 * -i (left) or 2(length-1) - i (right); the edge sample itself is not repeated.
 * Valid for pads shorter than `length`, which holds here (pad 200, length 480000).
 */
function reflectIndex(i: number, length: number): number {
  if (i < 0) return -i;
  if (i >= length) return 2 * (length - 1) - i;
  return i;
}

/** Lazily built extractors, one per mel count, shared by `logMelSpectrogram`. */
const extractors = new Map<number, LogMelExtractor>();

/**
 * Whisper log-mel features of one 30 s window; convenience wrapper over a cached `LogMelExtractor`
 * (filter bank, window and FFT plan are built on first use per nMels). See `LogMelExtractor.compute`.
 *
 * @param samples mono 16 kHz PCM in [-1, 1] (Float32Array[nSamples]); padded/truncated to 30 s.
 * @returns Float32Array of shape [nMels, 3000] row-major (`opts.out` when given).
 */
export function logMelSpectrogram(samples: RealArray, opts: LogMelOptions = {}): Float32Array {
  const nMels = opts.nMels ?? N_MELS;
  let extractor = extractors.get(nMels);
  if (!extractor) {
    extractor = new LogMelExtractor(nMels);
    extractors.set(nMels, extractor);
  }
  return extractor.compute(samples, opts.out);
}
