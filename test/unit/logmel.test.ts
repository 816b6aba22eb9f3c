/**
 * Whisper log-mel front end (engine/logmel.ts, engine/fft.ts) against HF transformers'
 * WhisperFeatureExtractor. The reference comes from test/fixtures/logmel/make_fixture.py
 * (see that file for how to regenerate it).
 */
import { readFileSync } from 'node:fs';
import path from 'node:path';

import { HOP_LENGTH, N_FFT, N_FRAMES, N_FREQ_BINS, N_MELS, N_SAMPLES, SAMPLE_RATE } from '../../engine/constants';
import { ComplexFft, RealFft } from '../../engine/fft';
import { LogMelExtractor, logMelSpectrogram, melFilterBank } from '../../engine/logmel';
import { parseWavPcm16Mono } from '../helpers/wav';
import { mulberry32 } from '../helpers/prng';

const FIXTURE_PATH = path.resolve(__dirname, '../fixtures/logmel/reference.json');
const JFK_WAV = path.resolve(__dirname, '../../../shared/audio/jfk.wav');

/** Filter weights are computed in float64 on both sides; 1e-6 of a row's peak allows only rounding noise. */
const FILTER_REL_TOL = 1e-6;
/** Log-mel is float32 in HF; this is ~800 float32 ulps at |x| ~ 1, so any real deviation shows. */
const LOGMEL_ABS_TOL = 1e-4;
/** FFT vs naive DFT (both float64); errors are ~1e-14 in practice, a wrong bin is O(1). */
const FFT_REL_TOL = 1e-3;

interface FrameSet {
  /** Frame index (as a string key) -> 80 log-mel values of that frame. */
  frames: Record<string, number[]>;
  stats: { min: number; max: number; mean: number };
}

interface Fixture {
  config: { sampleRate: number; nFft: number; hopLength: number; nMels: number; nSamples: number; nFrames: number };
  melFilters: { shape: [number, number]; rowSums: number[]; rows: Record<string, number[]> };
  inputs: {
    jfk5s: FrameSet & { source: { startSample: number; numSamples: number; sampleSum: number; first: number[] } };
    sine440_1000: FrameSet & {
      source: { sampleRate: number; durationS: number; frequenciesHz: number[]; amplitude: number };
    };
  };
}

const fixture = JSON.parse(readFileSync(FIXTURE_PATH, 'utf8')) as Fixture;

/** 2^32: maps a uint32 to [0, 1). */


/** O(N^2) reference DFT, X[k] = sum_t x[t] exp(-2 pi i t k / N); returns [re, im], each [N]. */
function naiveDft(re: Float64Array, im: Float64Array): [Float64Array, Float64Array] {
  const n = re.length;
  // Roots of unity indexed by (t * k) mod n: exact small angles and no trig call per term.
  const cos = Float64Array.from({ length: n }, (_, j) => Math.cos((-2 * Math.PI * j) / n));
  const sin = Float64Array.from({ length: n }, (_, j) => Math.sin((-2 * Math.PI * j) / n));
  const outRe = new Float64Array(n);
  const outIm = new Float64Array(n);
  for (let k = 0; k < n; k++) {
    let sr = 0;
    let si = 0;
    for (let t = 0; t < n; t++) {
      const j = (t * k) % n;
      sr += re[t] * cos[j] - im[t] * sin[j];
      si += re[t] * sin[j] + im[t] * cos[j];
    }
    outRe[k] = sr;
    outIm[k] = si;
  }
  return [outRe, outIm];
}

function randomSignal(n: number, rand: () => number): Float64Array {
  return Float64Array.from({ length: n }, () => 2 * rand() - 1);
}

/** max_k |a[k] - b[k]| / max_k |b[k]|: error relative to the spectrum's peak. */
function maxRelError(a: ArrayLike<number>, b: ArrayLike<number>): number {
  let err = 0;
  let peak = 0;
  for (let k = 0; k < b.length; k++) {
    err = Math.max(err, Math.abs(a[k] - b[k]));
    peak = Math.max(peak, Math.abs(b[k]));
  }
  return err / peak;
}

/**
 * Index of the first element where two arrays differ (-1 when identical). A plain loop: Jest's deep
 * equality on 240000-element typed arrays takes seconds.
 */
function firstDifference(a: ArrayLike<number>, b: ArrayLike<number>): number {
  if (a.length !== b.length) return Math.min(a.length, b.length);
  for (let i = 0; i < a.length; i++) if (!Object.is(a[i], b[i])) return i;
  return -1;
}

/** Compares a [80, 3000] log-mel against the fixture's frames and stats; returns the max abs diff seen. */
function expectMatchesReference(features: Float32Array, reference: FrameSet): number {
  expect(features.length).toBe(N_MELS * N_FRAMES);
  let maxDiff = 0;
  for (const [frameKey, expected] of Object.entries(reference.frames)) {
    const t = Number(frameKey);
    expect(expected).toHaveLength(N_MELS);
    for (let m = 0; m < N_MELS; m++) {
      const diff = Math.abs(features[m * N_FRAMES + t] - expected[m]);
      if (!(diff <= LOGMEL_ABS_TOL)) {
        throw new Error(`log-mel[mel ${m}, frame ${t}] = ${features[m * N_FRAMES + t]}, reference ${expected[m]}`);
      }
      maxDiff = Math.max(maxDiff, diff);
    }
  }
  let min = Infinity;
  let max = -Infinity;
  let sum = 0;
  // Comparisons rather than Math.min/max: global lookups are slow inside Jest's sandboxed realm.
  for (const v of features) {
    if (v < min) min = v;
    if (v > max) max = v;
    sum += v;
  }
  expect(Math.abs(min - reference.stats.min)).toBeLessThanOrEqual(LOGMEL_ABS_TOL);
  expect(Math.abs(max - reference.stats.max)).toBeLessThanOrEqual(LOGMEL_ABS_TOL);
  expect(Math.abs(sum / features.length - reference.stats.mean)).toBeLessThanOrEqual(LOGMEL_ABS_TOL);
  return maxDiff;
}

function loadJfk5s(): Float32Array {
  const { sampleRate, samples } = parseWavPcm16Mono(readFileSync(JFK_WAV));
  expect(sampleRate).toBe(SAMPLE_RATE);
  const { startSample, numSamples } = fixture.inputs.jfk5s.source;
  return samples.slice(startSample, startSample + numSamples);
}

/** jfk.wav (11 s) repeated to `length` samples, so every frame carries speech-like content. */
function jfkTiled(length: number): Float32Array {
  const jfk = parseWavPcm16Mono(readFileSync(JFK_WAV)).samples;
  const out = new Float32Array(length);
  for (let i = 0; i < length; i++) out[i] = jfk[i % jfk.length];
  return out;
}

function synthSines(params: Fixture['inputs']['sine440_1000']['source']): Float32Array {
  // Same operation order as make_fixture.py's sine_mix: float64 sum of amp * sin(2 pi f (n / sr)), then float32.
  const n = Math.round(params.sampleRate * params.durationS);
  const out = new Float32Array(n);
  for (let i = 0; i < n; i++) {
    const t = i / params.sampleRate;
    let x = 0;
    for (const f of params.frequenciesHz) x += params.amplitude * Math.sin(2 * Math.PI * f * t);
    out[i] = x;
  }
  return out;
}

describe('fixture', () => {
  it('was made with the constants the engine uses', () => {
    expect(fixture.config).toEqual({
      sampleRate: SAMPLE_RATE,
      nFft: N_FFT,
      hopLength: HOP_LENGTH,
      nMels: N_MELS,
      nSamples: N_SAMPLES,
      nFrames: N_FRAMES,
    });
  });
});

describe('melFilterBank', () => {
  const bank = melFilterBank();

  it('has shape [80, 201]', () => {
    expect(fixture.melFilters.shape).toEqual([N_MELS, N_FREQ_BINS]);
    expect(bank.length).toBe(N_MELS * N_FREQ_BINS);
  });

  it('matches the reference rows within 1e-6 of each row peak', () => {
    for (const [rowKey, expected] of Object.entries(fixture.melFilters.rows)) {
      const row = bank.subarray(Number(rowKey) * N_FREQ_BINS, (Number(rowKey) + 1) * N_FREQ_BINS);
      expect(maxRelError(row, expected)).toBeLessThanOrEqual(FILTER_REL_TOL);
    }
  });

  it('matches the reference row sums within 1e-6 relative', () => {
    fixture.melFilters.rowSums.forEach((expected, m) => {
      let sum = 0;
      for (let k = 0; k < N_FREQ_BINS; k++) sum += bank[m * N_FREQ_BINS + k];
      expect(Math.abs(sum - expected) / Math.abs(expected)).toBeLessThanOrEqual(FILTER_REL_TOL);
    });
  });
});

describe('FFT', () => {
  const rand = mulberry32(0x5eed);

  it('RealFft(400) spectrum and power match a naive DFT on random input', () => {
    const fft = new RealFft(N_FFT);
    const frame = randomSignal(N_FFT, rand);
    const [refRe, refIm] = naiveDft(frame, new Float64Array(N_FFT));
    const re = new Float64Array(fft.bins);
    const im = new Float64Array(fft.bins);
    const power = new Float64Array(fft.bins);
    fft.transform(frame, re, im);
    fft.powerSpectrum(frame, power);
    const refPower = Float64Array.from({ length: fft.bins }, (_, k) => refRe[k] ** 2 + refIm[k] ** 2);
    expect(fft.bins).toBe(N_FREQ_BINS);
    expect(maxRelError(re, refRe.subarray(0, fft.bins))).toBeLessThanOrEqual(FFT_REL_TOL);
    expect(maxRelError(im, refIm.subarray(0, fft.bins))).toBeLessThanOrEqual(FFT_REL_TOL);
    expect(maxRelError(power, refPower)).toBeLessThanOrEqual(FFT_REL_TOL);
  });

  it('RealFft accepts float32 frames and odd sizes', () => {
    for (const n of [N_FFT, 15, 21]) {
      const fft = new RealFft(n);
      const frame = Float32Array.from(randomSignal(n, rand));
      const [refRe, refIm] = naiveDft(Float64Array.from(frame), new Float64Array(n));
      const power = new Float32Array(fft.bins);
      fft.powerSpectrum(frame, power);
      const refPower = Float64Array.from({ length: fft.bins }, (_, k) => refRe[k] ** 2 + refIm[k] ** 2);
      expect(maxRelError(power, refPower)).toBeLessThanOrEqual(FFT_REL_TOL);
    }
  });

  // Sizes exercising every butterfly (2, 4, 5, 8 and the naive-DFT path for 3, 7, 11, 13) and their mixes.
  it.each([1, 2, 3, 4, 5, 7, 8, 12, 16, 20, 25, 30, 49, 143, 200, 210, 400, 512])(
    'ComplexFft(%i) matches a naive DFT',
    (n) => {
      const re = randomSignal(n, rand);
      const im = randomSignal(n, rand);
      const [refRe, refIm] = naiveDft(re, im);
      new ComplexFft(n).forward(re, im);
      expect(maxRelError(re, refRe)).toBeLessThanOrEqual(FFT_REL_TOL);
      expect(maxRelError(im, refIm)).toBeLessThanOrEqual(FFT_REL_TOL);
    },
  );

  it('rejects frames of the wrong length', () => {
    const fft = new RealFft(N_FFT);
    expect(() => fft.powerSpectrum(new Float64Array(N_FFT - 1), new Float64Array(N_FREQ_BINS))).toThrow(RangeError);
  });
});

describe('logMelSpectrogram', () => {
  it('reads the same jfk.wav samples as the fixture script', () => {
    const samples = loadJfk5s();
    const { numSamples, sampleSum, first } = fixture.inputs.jfk5s.source;
    expect(samples.length).toBe(numSamples);
    let sum = 0;
    for (const v of samples) sum += v;
    expect(sum).toBeCloseTo(sampleSum, 6);
    // The fixture stores float32 values with 9 significant digits, which round-trip exactly through fround.
    expect(Array.from(samples.subarray(0, first.length))).toEqual(first.map(Math.fround));
  });

  it('matches WhisperFeatureExtractor on the first 5 s of jfk.wav', () => {
    const maxDiff = expectMatchesReference(logMelSpectrogram(loadJfk5s()), fixture.inputs.jfk5s);
    console.log(`log-mel jfk 5 s: max abs diff vs HF at stored frames = ${maxDiff.toExponential(2)}`);
  });

  it('matches WhisperFeatureExtractor on a 2 s 440 Hz + 1000 Hz sine mix', () => {
    const samples = synthSines(fixture.inputs.sine440_1000.source);
    const maxDiff = expectMatchesReference(logMelSpectrogram(samples), fixture.inputs.sine440_1000);
    console.log(`log-mel sines: max abs diff vs HF at stored frames = ${maxDiff.toExponential(2)}`);
  });

  it('writes into a preallocated output and gives the same values as a fresh one', () => {
    const samples = loadJfk5s();
    const fresh = logMelSpectrogram(samples);
    const out = new Float32Array(N_MELS * N_FRAMES).fill(Number.NaN);
    expect(logMelSpectrogram(samples, { out })).toBe(out);
    expect(firstDifference(out, fresh)).toBe(-1);
    expect(() => logMelSpectrogram(samples, { out: new Float32Array(N_FRAMES) })).toThrow(RangeError);
  });

  it('truncates input longer than 30 s to the first window', () => {
    // 31 s: the right reflect padding must then read real samples, not zeros.
    const long = jfkTiled(N_SAMPLES + SAMPLE_RATE);
    expect(firstDifference(logMelSpectrogram(long), logMelSpectrogram(long.subarray(0, N_SAMPLES)))).toBe(-1);
  });

  it('timing: one 30 s window (logged, not asserted)', () => {
    const window = jfkTiled(N_SAMPLES);
    const extractor = new LogMelExtractor();
    const out = new Float32Array(extractor.outputLength);
    let start = performance.now();
    extractor.compute(window, out);
    const coldMs = performance.now() - start;
    start = performance.now();
    extractor.compute(window, out);
    const warmMs = performance.now() - start;
    const timings = `first call ${coldMs.toFixed(1)} ms, second ${warmMs.toFixed(1)} ms`;
    console.log(`log-mel one 30 s window [80, 3000]: ${timings}`);
  });
});
