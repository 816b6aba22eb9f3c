/**
 * The live stream's VAD input level (audio/vad-gain.ts VadRunningLevel): each 512-sample frame scaled by the gain of
 * the running peak (its own peak, and every peak that lasted 3 frames held 30 s, then falling 20 dB per 1.7 s), the
 * file rule's target and cap; causal, no delay, the same output whatever blocks the client sends; a stream at or above
 * the target bit for bit; a click is not held. Then the real Silero VAD on the VAD thread (as GET /v1/listen opens it)
 * and the live segmenter (api/live-audio.ts), 100 ms blocks: jfk at −50 dBFS peak gives finals covering its speech;
 * pink, brown and white noise from −60 to −20 dBFS and digital silence give none; quiet speech right after a click,
 * and 31 s after a lasting loud sound, is found.
 */
import { execFileSync } from 'node:child_process';
import * as path from 'node:path';
import { UtteranceSegmenter } from '../../api/live-audio';
import { VadThread } from '../../audio/vad-client';
import {
  samplePeak,
  VAD_GAIN_WINDOW_SAMPLES,
  VAD_MAX_GAIN,
  VAD_RUNNING_FRAME_SAMPLES,
  VAD_RUNNING_HOLD_SECONDS,
  VAD_RUNNING_RELEASE_DB_PER_SECOND,
  VAD_RUNNING_SUSTAIN_FRAMES,
  VAD_TARGET_PEAK,
  VadRunningGainStream,
  VadRunningLevel,
} from '../../audio/vad-gain';
import { mulberry32 } from '../helpers/prng';
import { concatSamples } from '../../audio/speech-spans';

const AUDIO = path.resolve(__dirname, '../../../shared/audio');
const SR = 16000;
const F = VAD_RUNNING_FRAME_SAMPLES;
const bytes = (a: Float32Array) => Buffer.from(a.buffer, a.byteOffset, a.byteLength);
const db = (g: number) => 20 * Math.log10(g);

/** All of `x` through a fresh VadRunningLevel in blocks of `block` samples, and the gain of each frame. */
function level(x: Float32Array, block: number, l = new VadRunningLevel()): { out: Float32Array; gains: number[] } {
  const parts: Float32Array[] = [];
  const gains: number[] = [];
  for (let at = 0; at < x.length; at += block) parts.push(l.push(x.subarray(at, at + block)));
  const rest = l.end();
  if (rest) parts.push(rest);
  const out = concatSamples(parts);
  // each frame's gain, from its peak before and after
  for (let i = 0; i < l.frames; i++) {
    const a = samplePeak(x.subarray(i * F, (i + 1) * F));
    gains.push(a > 0 ? samplePeak(out.subarray(i * F, (i + 1) * F)) / a : NaN);
  }
  return { out, gains };
}

describe('VadRunningLevel', () => {
  test('the constants: the file rule\'s window as the hold, a peak meter\'s 20 dB in 1.7 s as the release', () => {
    expect(VAD_RUNNING_HOLD_SECONDS).toBe(VAD_GAIN_WINDOW_SAMPLES / SR);
    expect(VAD_RUNNING_HOLD_SECONDS).toBe(30);
    expect(VAD_RUNNING_RELEASE_DB_PER_SECOND * 1.7).toBeCloseTo(20, 12);
    expect(F).toBe(512);
    expect(VAD_RUNNING_SUSTAIN_FRAMES).toBe(3);
    expect(() => new VadRunningLevel(-1)).toThrow(RangeError);
    expect(() => new VadRunningLevel(30, Infinity)).toThrow(RangeError);
  });

  test('the first frame of a quiet stream is raised by its own peak; no frame is ever raised over the target', () => {
    const rand = mulberry32(5);
    const x = Float32Array.from({ length: 40 * F }, (_, i) => (i < 20 * F ? 0.003 : 0.01) * (rand() * 2 - 1));
    x[7] = 0.003;
    const { out, gains } = level(x, 1600);
    expect(gains[0]).toBeCloseTo(VAD_TARGET_PEAK / samplePeak(x.subarray(0, F)), 3);
    expect(out[7]).toBeCloseTo(VAD_TARGET_PEAK, 5);
    for (let i = 0; i < 40; i++) expect(samplePeak(out.subarray(i * F, (i + 1) * F))).toBeLessThanOrEqual(VAD_TARGET_PEAK + 1e-6);
    expect(out.length).toBe(x.length);
  });

  test('a stream at or above the target peak is passed bit for bit, after its first frame too; the input is untouched', () => {
    const rand = mulberry32(7);
    // 96 ms of loud sound, then 30 s of much quieter sound: the loud peak is held for 30 s
    const x = Float32Array.from({ length: 30 * SR }, (_, i) => (i < 3 * F ? 0.8 : 0.05) * (rand() * 2 - 1));
    for (let f = 0; f < 3; f++) x[f * F + 100] = 0.8;
    const copy = x.slice();
    const l = new VadRunningLevel();
    const { out } = level(x, 1600, l);
    expect(l.raisedFrames).toBe(0);
    expect(bytes(out).equals(bytes(x))).toBe(true);
    expect(bytes(x).equals(bytes(copy))).toBe(true);
  });

  test('a loud sound, then quiet: gain 1 for the 30 s hold, then rising at 20 dB per 1.7 s to the quiet part\'s own gain', () => {
    const frames = Math.ceil(40 * SR / F);
    const x = new Float32Array(frames * F).fill(0.001);
    for (let f = 0; f < 3; f++) x[f * F] = 0.9; // lasting 3 frames: held from the third on
    const { gains } = level(x, 1600);
    const hold = Math.round((VAD_RUNNING_HOLD_SECONDS * SR) / F);
    expect(gains.slice(0, hold + 3).every((g) => g === 1)).toBe(true);
    // 0.9 falls to 0.5 (5.1 dB) 0.43 s after the hold, then the gain rises 20 dB per 1.7 s
    const frameS = F / SR;
    const at = (s: number) => gains[2 + hold + Math.round(s / frameS)];
    expect(db(at(2))).toBeCloseTo(db(0.5 / 0.9) + VAD_RUNNING_RELEASE_DB_PER_SECOND * 2, 0);
    expect(db(at(4))).toBeCloseTo(db(0.5 / 0.9) + VAD_RUNNING_RELEASE_DB_PER_SECOND * 4, 0);
    // and stops at the quiet part's own gain (0.5 / 0.001 = 54 dB), 59 dB below 0.9 → 5 s after the hold
    expect(at(9.5)).toBeCloseTo(500, 1);
    expect(gains[gains.length - 1]).toBeCloseTo(500, 1);
  });

  test('the largest peak of the last 30 s decides, not only the largest ever: a later, smaller peak is held from its own time', () => {
    const frames = Math.ceil(70 * SR / F);
    const x = new Float32Array(frames * F).fill(0.001);
    const at20 = Math.round((20 * SR) / F);
    for (let f = 0; f < 3; f++) {
      x[f * F] = 0.9; // held to 30 s
      x[(at20 + f) * F] = 0.6; // held to 50 s
    }
    const { gains } = level(x, 4000);
    const g = (s: number) => gains[Math.round((s * SR) / F)];
    expect(g(40)).toBe(1); // 0.9 has fallen under 0.6 by then; 0.6 is still held
    expect(g(49.9)).toBe(1);
    expect(g(60)).toBeCloseTo(500, 1);
  });

  test('the same output whatever blocks the client sends (frames aligned to the stream\'s start); end() scales the partial frame', () => {
    const rand = mulberry32(13);
    const x = Float32Array.from({ length: 12 * SR + 300 }, (_, i) => (i < 4 * SR ? 0.002 : i < 6 * SR ? 0.7 : 0.0005) * (rand() * 2 - 1));
    const ref = level(x, F);
    for (const block of [1, 160, 1600, 4099, 32000, x.length]) expect(bytes(level(x, block).out).equals(bytes(ref.out))).toBe(true);
    expect(ref.out.length).toBe(x.length);
    const l = new VadRunningLevel();
    expect(l.push(new Float32Array(300)).length).toBe(0);
    expect(l.pending).toBe(300);
    expect(l.push(new Float32Array(300).fill(0.001)).length).toBe(F);
    expect(l.end()!.length).toBe(88);
    expect(l.end()).toBeNull();
  });

  test('a click of one or two frames is not held (its own frames are not raised over the target); one of three is', () => {
    const frames = 200;
    const x = new Float32Array(frames * F).fill(0.001);
    x[50 * F] = 0.9; // one frame
    x[100 * F + 500] = 0.9; // frames 100 and 101
    x[100 * F + 520] = 0.9;
    const { gains } = level(x, 1600);
    expect(gains[50]).toBe(1); // 0.9 ≥ the target: its own frame as it was
    expect(gains[51]).toBeCloseTo(500, 1); // the quiet sound after it raised at once
    expect(gains[100]).toBe(1);
    expect(gains[101]).toBe(1);
    expect(gains[102]).toBeCloseTo(500, 1);
    const y = new Float32Array(frames * F).fill(0.001);
    for (let f = 50; f < 53; f++) y[f * F] = 0.9;
    const held = level(y, 1600).gains;
    expect(held.slice(50, frames).every((g) => g === 1)).toBe(true);
  });

  test('digital silence stays zeros (gain capped at VAD_MAX_GAIN)', () => {
    const l = new VadRunningLevel();
    const out = l.push(new Float32Array(10 * F));
    expect(out.every((v) => v === 0)).toBe(true);
    expect(l.lastGain).toBe(VAD_MAX_GAIN);
  });

  test('VadRunningGainStream adds no delay: each push returns the probabilities of the frames it completes', async () => {
    const seen: number[] = [];
    const inner = {
      push: async (b: Float32Array) => {
        seen.push(b.length, samplePeak(b));
        return new Float32Array(Math.floor(b.length / F));
      },
      finish: async () => Float32Array.from([0.25]),
    };
    const s = new VadRunningGainStream(inner);
    expect((await s.push(new Float32Array(1600).fill(0.001))).length).toBe(3); // 3 frames of 100 ms, at once
    expect((await s.push(new Float32Array(100).fill(0.001))).length).toBe(0);
    expect(Array.from(await s.finish())).toEqual([0.25]); // the 164-sample rest pushed (no whole frame), then finish's own
    expect(seen[0]).toBe(3 * F);
    expect(seen[1]).toBeCloseTo(VAD_TARGET_PEAK, 6);
    expect(seen[2]).toBe(164);
  });
});

describe('live detection on the VAD thread (real Silero VAD, the live segmenter, 100 ms blocks)', () => {
  afterAll(async () => {
    await VadThread.closeShared();
  });

  /** 16-bit samples of what sox makes, as a pcm_s16le client sends them. */
  function sox(input: string[], effects: string[] = []): Float32Array {
    const buf = execFileSync('sox', ['-R', ...input, '-t', 'raw', '-e', 'signed', '-b', '16', '-c', '1', '-r', '16000', '-', ...effects]);
    const s16 = new Int16Array(buf.buffer, buf.byteOffset, buf.byteLength / 2);
    return Float32Array.from(s16, (v) => v / 32768);
  }

  /** The finals ([start, end] s) the live segmenter cuts from the VAD as GET /v1/listen opens it. */
  async function finals(x: Float32Array, levelled: 'running' | false = 'running'): Promise<[number, number][]> {
    const vad = VadThread.shared().open({ levelled });
    const seg = new UtteranceSegmenter();
    const out: [number, number][] = [];
    for (let at = 0; at < x.length; at += 1600) {
      const b = x.subarray(at, at + 1600);
      for (const r of seg.push(b, await vad.push(b))) if (r.kind === 'final') out.push([r.start, r.end]);
    }
    await vad.finish();
    const last = seg.flush();
    if (last) out.push([last.start, last.end]);
    return out;
  }

  const speech = (fs: [number, number][]) => fs.reduce((n, [a, b]) => n + b - a, 0);

  test('jfk at −50 dBFS peak: no finals raw, finals over its 11 s levelled; at its own level the same speech', async () => {
    const jfk = sox([path.join(AUDIO, 'jfk.wav')]);
    const quiet = sox([path.join(AUDIO, 'jfk.wav')], ['gain', '-n', '-50']);
    const [normalRaw, normal, quietRaw, quietLevelled] = [await finals(jfk, false), await finals(jfk), await finals(quiet, false), await finals(quiet)];
    process.stderr.write(`[live-level] finals: jfk raw ${JSON.stringify(normalRaw)} levelled ${JSON.stringify(normal)}; at -50 dBFS raw ${JSON.stringify(quietRaw)} levelled ${JSON.stringify(quietLevelled)}\n`);
    expect(quietRaw).toEqual([]);
    expect(speech(quietLevelled)).toBeGreaterThan(10.5);
    expect(normal.length).toBe(normalRaw.length);
    // the lead-in (0.35 s under the target) is raised by its own peak: the first final starts a frame earlier
    for (let i = 0; i < normal.length; i++) {
      expect(Math.abs(normal[i][0] - normalRaw[i][0])).toBeLessThanOrEqual(0.05);
      expect(Math.abs(normal[i][1] - normalRaw[i][1])).toBeLessThanOrEqual(0.05);
    }
  }, 60_000);

  test('noise at any level and digital silence give no finals: pink, brown and white noise at −60…−20 dBFS peak, zeros', async () => {
    const got: Record<string, number> = {};
    for (const color of ['pinknoise', 'brownnoise', 'whitenoise']) {
      for (const level of [20, 30, 40, 50, 60]) got[`${color} -${level}`] = (await finals(sox(['-n'], ['synth', '30', color, 'gain', '-n', `-${level}`]))).length;
    }
    got.zeros = (await finals(new Float32Array(30 * SR))).length;
    expect(Object.values(got).every((n) => n === 0)).toBe(true);
    expect(Object.keys(got)).toHaveLength(16);
  }, 120_000);

  test('jfk at −50 dBFS right after a 50 ms full-scale click: found; 1 s after a 300 ms full-scale burst: not yet; 31 s after it: found', async () => {
    const quiet = sox([path.join(AUDIO, 'jfk.wav')], ['gain', '-n', '-50']);
    const after = (sound: Float32Array, gapSeconds: number) => {
      const x = new Float32Array(sound.length + gapSeconds * SR + quiet.length);
      x.set(sound);
      x.set(quiet, sound.length + gapSeconds * SR);
      return x;
    };
    const click = sox(['-n'], ['synth', '0.05', 'whitenoise', 'gain', '-n', '-1']);
    const burst = sox(['-n'], ['synth', '0.3', 'whitenoise', 'gain', '-n', '-1']);
    const [c, b1, b31] = [await finals(after(click, 0)), await finals(after(burst, 1)), await finals(after(burst, 31))];
    process.stderr.write(`[live-level] jfk at -50 dBFS after a click ${JSON.stringify(c)}; 1 s after a burst ${JSON.stringify(b1)}; 31 s after ${JSON.stringify(b31)}\n`);
    expect(speech(c)).toBeGreaterThan(9); // alone 10.6 s; the click, scored at its own level, costs Silero's state 0.7 s
    expect(b1).toEqual([]);
    expect(b31[0][0]).toBeGreaterThan(31.3);
    expect(speech(b31)).toBeGreaterThan(8);
  }, 60_000);
});
