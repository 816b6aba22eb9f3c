/**
 * Long-form chunk planning (audio/chunk-plan.ts) on synthetic audio built here: voiced "speech" (a
 * harmonic tone with a syllable-rate envelope plus noise), silences (noise 80 dB down) and quieter
 * stretches that are still not silence.
 */
import {
  DEFAULT_CHUNK_PLAN,
  frameEnergyDb,
  planChunks,
  silenceThresholdDb,
  type ChunkSpan,
} from '../../audio/chunk-plan';
import { mulberry32 } from '../helpers/prng';

const SR = DEFAULT_CHUNK_PLAN.sampleRate;
const FRAME_S = DEFAULT_CHUNK_PLAN.frameSeconds;
const MAX_S = DEFAULT_CHUNK_PLAN.maxChunkSeconds;
const MIN_S = DEFAULT_CHUNK_PLAN.minChunkSeconds;
/** Chunk times are rounded to milliseconds by planChunks. */
const TIME_TOL = 1e-3;


type Part =
  /** voiced, peak amplitude `amp` (default 0.3, about -14 dBFS RMS) */
  | { kind: 'speech'; seconds: number; amp?: number }
  /** noise floor at 1e-4 (-80 dBFS) */
  | { kind: 'silence'; seconds: number };

interface Synth {
  samples: Float32Array;
  /** [start, end] in seconds of every silence part */
  silences: [number, number][];
  /** [start, end, amp] of every speech part */
  speech: [number, number, number][];
}

/**
 * One second of each sound, tiled by global sample index (140 Hz, 280 Hz and the 4 Hz envelope all
 * repeat every second). Tiling with `set` matters: in Jest's realm every element store into a
 * host-realm typed array is slow (about 1 µs), so per-sample synthesis of minutes of audio takes seconds.
 */
function template(kind: 'speech' | 'silence', amp: number, seed: number): Float32Array {
  const rand = mulberry32(seed);
  const out: number[] = new Array(SR);
  for (let i = 0; i < SR; i++) {
    if (kind === 'silence') {
      out[i] = 1e-4 * (rand() * 2 - 1);
    } else {
      const t = i / SR;
      // a 4 Hz syllable envelope that never drops below 60%: continuous speech, no pauses
      const env = 0.8 + 0.2 * Math.sin(2 * Math.PI * 4 * t);
      const voice = 0.6 * Math.sin(2 * Math.PI * 140 * t) + 0.3 * Math.sin(2 * Math.PI * 280 * t);
      out[i] = amp * env * (voice + 0.1 * (rand() * 2 - 1));
    }
  }
  return Float32Array.from(out);
}

/** Builds audio from parts laid end to end; part lengths are rounded to whole samples. */
function synth(parts: Part[], seed = 1): Synth {
  const lens = parts.map((p) => Math.round(p.seconds * SR));
  const samples = new Float32Array(lens.reduce((a, b) => a + b, 0));
  const silences: [number, number][] = [];
  const speech: [number, number, number][] = [];
  const templates = new Map<string, Float32Array>();
  let at = 0;
  parts.forEach((p, k) => {
    const n = lens[k];
    const amp = p.kind === 'speech' ? (p.amp ?? 0.3) : 0;
    const key = `${p.kind}/${amp}`;
    if (!templates.has(key)) templates.set(key, template(p.kind, amp, seed + templates.size));
    const tpl = templates.get(key)!;
    for (let i = at; i < at + n; ) {
      const phase = i % SR;
      const len = Math.min(SR - phase, at + n - i);
      samples.set(tpl.subarray(phase, phase + len), i);
      i += len;
    }
    if (p.kind === 'silence') silences.push([at / SR, (at + n) / SR]);
    else speech.push([at / SR, (at + n) / SR, amp]);
    at += n;
  });
  return { samples, silences, speech };
}

const speech = (seconds: number, amp?: number): Part => ({ kind: 'speech', seconds, amp });
const silence = (seconds: number): Part => ({ kind: 'silence', seconds });

/** Chunks start at 0, touch end to end, end at the audio's end, and none exceeds one window. */
function expectCovering(chunks: ChunkSpan[], samples: Float32Array) {
  const total = samples.length / SR;
  expect(chunks.length).toBeGreaterThan(0);
  expect(chunks[0].start).toBe(0);
  chunks.forEach((c, i) => {
    expect(c.index).toBe(i);
    expect(c.end).toBeGreaterThan(c.start);
    expect(c.end - c.start).toBeLessThanOrEqual(MAX_S + 1e-9);
    if (i > 0) expect(c.start).toBe(chunks[i - 1].end); // no gap, no overlap
  });
  expect(chunks[chunks.length - 1].end).toBeCloseTo(total, 3);
}

/** The cut points: every chunk end but the last. */
const cuts = (chunks: ChunkSpan[]) => chunks.slice(0, -1).map((c) => c.end);

describe('planChunks', () => {
  test('empty audio gives no chunks', () => {
    expect(planChunks(new Float32Array(0))).toEqual([]);
  });

  test('short audio gives one chunk covering it', () => {
    const { samples } = synth([silence(0.5), speech(4), silence(0.7)]);
    expect(planChunks(samples)).toEqual([{ index: 0, start: 0, end: 5.2 }]);
  });

  test('audio shorter than one energy frame gives one chunk', () => {
    const samples = new Float32Array(100).fill(0.1);
    expect(planChunks(samples)).toEqual([{ index: 0, start: 0, end: 0.006 }]);
  });

  test('exactly 30 s is one chunk', () => {
    const { samples } = synth([speech(10), silence(1), speech(19)]);
    expect(samples.length).toBe(30 * SR);
    expect(planChunks(samples)).toEqual([{ index: 0, start: 0, end: 30 }]);
  });

  test('30.01 s is two chunks, the cut inside the pause', () => {
    const s = synth([speech(12), silence(1), speech(17.01)]);
    const chunks = planChunks(s.samples);
    expect(chunks).toHaveLength(2);
    expectCovering(chunks, s.samples);
    expect(chunks[1].end).toBe(30.01);
    expect(chunks[0].end).toBeGreaterThanOrEqual(12);
    expect(chunks[0].end).toBeLessThanOrEqual(13);
  });

  test('30.01 s of speech with no pause is still two chunks of ≤ 30 s', () => {
    const s = synth([speech(30.01)]);
    const chunks = planChunks(s.samples);
    expect(chunks).toHaveLength(2);
    expectCovering(chunks, s.samples);
  });

  test('cuts land inside pauses: the latest pause of at least 0.3 s in [10 s, 30 s) of each chunk', () => {
    // pauses at 8 s (too early for the first chunk), 22 s, 27.5 s, 45 s and 52 s; 70 s in all
    const s = synth([
      speech(8), silence(0.6), // 8.0–8.6
      speech(13.4), silence(0.6), // 22.0–22.6
      speech(4.9), silence(0.6), // 27.5–28.1
      speech(16.9), silence(0.6), // 45.0–45.6
      speech(6.4), silence(0.6), // 52.0–52.6
      speech(17.4),
    ]);
    expect(s.samples.length).toBe(70 * SR);
    const chunks = planChunks(s.samples);
    expectCovering(chunks, s.samples);
    expect(chunks).toHaveLength(3);
    const [c1, c2] = cuts(chunks);
    expect(c1).toBeGreaterThanOrEqual(27.5);
    expect(c1).toBeLessThanOrEqual(28.1);
    expect(c2).toBeGreaterThanOrEqual(52.0);
    expect(c2).toBeLessThanOrEqual(52.6);
    for (const cut of cuts(chunks)) {
      expect(s.silences.some(([a, b]) => cut >= a - TIME_TOL && cut <= b + TIME_TOL)).toBe(true);
    }
  });

  test('every cut of a long recording with regular pauses lies within a pause', () => {
    // 3 min: 7.3 s of speech then a 0.5 s pause, over and over
    const parts: Part[] = [];
    for (let i = 0; i < 23; i++) parts.push(speech(7.3), silence(0.5));
    const s = synth(parts, 7);
    const chunks = planChunks(s.samples);
    expectCovering(chunks, s.samples);
    expect(chunks.length).toBeGreaterThanOrEqual(7);
    for (const cut of cuts(chunks)) {
      expect(s.silences.some(([a, b]) => cut > a && cut < b)).toBe(true);
    }
  });

  test('a pause longer than the search range is cut inside, not past the window', () => {
    // one 25 s silence from 20 s to 45 s
    const s = synth([speech(20), silence(25), speech(20)]);
    const chunks = planChunks(s.samples);
    expectCovering(chunks, s.samples);
    const [c1] = cuts(chunks);
    expect(c1).toBeGreaterThanOrEqual(20);
    expect(c1).toBeLessThanOrEqual(30);
  });

  test('pauses shorter than minSilenceSeconds are not cut points', () => {
    // 0.1 s gaps every 2 s: none counts as a pause, so the cut goes to the quietest frame instead,
    // which is one of those gaps (they are the quietest frames in the range)
    const parts: Part[] = [];
    for (let i = 0; i < 30; i++) parts.push(speech(1.9), silence(0.1));
    const s = synth(parts, 3);
    const chunks = planChunks(s.samples);
    expectCovering(chunks, s.samples);
    for (const cut of cuts(chunks)) {
      expect(s.silences.some(([a, b]) => cut >= a - TIME_TOL && cut <= b + TIME_TOL)).toBe(true);
      // the quietest-frame search covers only the second half of the window
      expect(cut - chunks.find((c) => c.end === cut)!.start).toBeGreaterThanOrEqual(MAX_S / 2 - TIME_TOL);
    }
    const short = planChunks(s.samples, { ...DEFAULT_CHUNK_PLAN, minSilenceSeconds: 0.05 });
    expectCovering(short, s.samples);
    // with a 50 ms minimum the latest gap in [10, 30) is taken: 29.9–30.0 s
    expect(short[0].end).toBeGreaterThanOrEqual(29.9 - TIME_TOL);
    expect(short[0].end).toBeLessThan(30);
  });

  test('with no pauses the cut falls at the lowest-energy point of the allowed range', () => {
    // continuous speech; a quieter stretch (20 dB down, still above the silence threshold) at 21.3–21.5 s
    const s = synth([speech(21.3), speech(0.2, 0.03), speech(38.5)], 5);
    const energy = frameEnergyDb(s.samples, FRAME_S * SR);
    const threshold = silenceThresholdDb(energy);
    // the precondition: no frame of the quiet stretch counts as silence
    const quiet = energy.slice(Math.round(21.3 / FRAME_S), Math.round(21.5 / FRAME_S));
    expect(Math.min(...quiet)).toBeGreaterThan(threshold);

    const chunks = planChunks(s.samples);
    expectCovering(chunks, s.samples);
    const [c1] = cuts(chunks);
    expect(c1).toBeGreaterThanOrEqual(21.3);
    expect(c1).toBeLessThanOrEqual(21.5);
    // and it is the quietest frame of the range searched: the second half of the window, [15 s, 30 s)
    const from = Math.round(MAX_S / 2 / FRAME_S);
    const to = Math.round(MAX_S / FRAME_S);
    const range = energy.slice(from, to);
    const cutFrame = Math.round(c1 / FRAME_S);
    expect(energy[cutFrame]).toBe(Math.min(...range));
  });

  test('with no pauses every chunk of a long recording is ≤ 30 s and at least half a window', () => {
    const s = synth([speech(150)], 11);
    const chunks = planChunks(s.samples);
    expectCovering(chunks, s.samples);
    for (const c of chunks.slice(0, -1)) expect(c.end - c.start).toBeGreaterThanOrEqual(MAX_S / 2 - TIME_TOL);
  });

  test('a pause before minChunkSeconds is ignored', () => {
    // the only pause ends at 5 s: cutting there would make a needlessly short chunk
    const s = synth([speech(4), silence(1), speech(35)], 9);
    const chunks = planChunks(s.samples);
    expectCovering(chunks, s.samples);
    expect(cuts(chunks)[0]).toBeGreaterThanOrEqual(MIN_S);
  });

  test('all-silent audio is still covered by chunks of ≤ 30 s', () => {
    const samples = new Float32Array(70 * SR);
    const chunks = planChunks(samples);
    expectCovering(chunks, samples);
  });
});
