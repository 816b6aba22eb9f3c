/** Live audio helpers: frame decoding, streaming resampling, utterance segmentation. */
import { DEFAULT_SEGMENTER, frameToFloat32, Resampler, UtteranceSegmenter, type DecodeRequest } from '../../api/live-audio';

const SR = 16_000;
const tone = (seconds: number, rate = SR, amp = 0.3, hz = 440) =>
  Float32Array.from({ length: Math.round(seconds * rate) }, (_, i) => amp * Math.sin((2 * Math.PI * hz * i) / rate));
const silence = (seconds: number) => new Float32Array(Math.round(seconds * SR));
const concat = (...parts: Float32Array[]) => {
  const out = new Float32Array(parts.reduce((n, p) => n + p.length, 0));
  let o = 0;
  for (const p of parts) (out.set(p, o), (o += p.length));
  return out;
};
/**
 * VAD probabilities for audio made of parts: speech 0.95, non-speech 0.02, or a fixed value (a noisy
 * room's in-between frames), one per 512-sample frame.
 */
function probsOf(parts: [number | 's' | 'q', number][]): Float32Array {
  const out: number[] = [];
  let t = 0;
  for (const [kind, seconds] of parts) {
    const end = t + seconds;
    while ((out.length + 0.5) * 512 < end * SR) out.push(kind === 's' ? 0.95 : kind === 'q' ? 0.02 : kind);
    t = end;
  }
  return Float32Array.from(out);
}
/** Feeds `samples` in 100 ms frames, each with the probabilities of the VAD frames it completed, then the flush. */
function run(samples: Float32Array, probs: Float32Array, seg = new UtteranceSegmenter()): DecodeRequest[] {
  const out: DecodeRequest[] = [];
  let frames = 0;
  for (let i = 0; i < samples.length; i += SR / 10) {
    const block = samples.subarray(i, i + SR / 10);
    const done = Math.min(probs.length, Math.floor((i + block.length) / 512));
    out.push(...seg.push(block, probs.subarray(frames, done)));
    frames = done;
  }
  const last = seg.flush();
  if (last) out.push(last);
  return out;
}

test('frames: s16le and f32, whole samples only', () => {
  const s16 = Buffer.alloc(6);
  s16.writeInt16LE(0, 0);
  s16.writeInt16LE(16384, 2);
  s16.writeInt16LE(-32768, 4);
  expect(Array.from(frameToFloat32(s16, 'pcm_s16le'))).toEqual([0, 0.5, -1]);
  const f32 = Buffer.alloc(8);
  f32.writeFloatLE(0.25, 0);
  f32.writeFloatLE(-0.5, 4);
  expect(Array.from(frameToFloat32(f32, 'f32'))).toEqual([0.25, -0.5]);
  expect(() => frameToFloat32(Buffer.alloc(3), 'pcm_s16le')).toThrow(/whole number/);
  expect(() => frameToFloat32(Buffer.alloc(6), 'f32')).toThrow(/whole number/);
});

test('resampling 48 kHz → 16 kHz gives the same samples whatever the frame sizes', () => {
  const input = tone(1, 48_000);
  const whole = new Resampler(48_000).push(input);
  expect(Math.abs(whole.length - SR)).toBeLessThanOrEqual(1);
  const r = new Resampler(48_000);
  const parts: number[] = [];
  let i = 0;
  for (const size of [1, 7, 480, 1000, 4800, 100_000]) {
    parts.push(...r.push(input.subarray(i, i + size)));
    i += size;
  }
  expect(parts.length).toBe(whole.length);
  expect(Math.max(...parts.map((v, k) => Math.abs(v - whole[k])))).toBeLessThan(1e-6);
  // Every third 48 kHz sample is a 16 kHz sample of the same tone.
  const direct = tone(1, SR);
  expect(Math.max(...Array.from(whole.subarray(0, 1000), (v, k) => Math.abs(v - direct[k])))).toBeLessThan(1e-5);
  expect(new Resampler(SR).push(direct)).toBe(direct);
});

test('two utterances separated by a pause: partials while speaking, one final each with stream times', () => {
  const audio = concat(silence(0.5), tone(2.5), silence(1), tone(1.5), silence(0.2));
  const reqs = run(audio, probsOf([['q', 0.5], ['s', 2.5], ['q', 1], ['s', 1.5], ['q', 0.2]]));
  const finals = reqs.filter((r) => r.kind === 'final');
  expect(finals.map((f) => f.utterance)).toEqual([0, 1]);
  // The first starts with the preroll before speech (0.5 − 0.3 s) and ends after the pause was heard.
  expect(finals[0].start).toBeCloseTo(0.2, 1);
  expect(finals[0].end).toBeGreaterThanOrEqual(3.0 + DEFAULT_SEGMENTER.pauseSeconds - 0.05);
  expect(finals[0].samples.length).toBe(Math.round((finals[0].end - finals[0].start) * SR));
  // The rest of the pause is dropped down to the preroll before the second utterance's speech (at 4.0 s).
  expect(finals[1].start).toBeCloseTo(4.0 - DEFAULT_SEGMENTER.prerollSeconds, 1);
  expect(finals[1].end).toBeCloseTo(5.7, 1);
  const partials = reqs.filter((r) => r.kind === 'partial');
  expect(partials.length).toBeGreaterThanOrEqual(2);
  // at most one partial per second of speech
  expect(partials.length).toBeLessThanOrEqual(4);
});

test('silence alone decodes nothing; memory stays bounded in a long pause', () => {
  const seg = new UtteranceSegmenter();
  expect(run(silence(60), probsOf([['q', 60]]), seg)).toEqual([]);
  expect(seg.total).toBe(60 * SR);
});

test('speech without a pause is cut at the longest utterance', () => {
  const finals = run(tone(60), probsOf([['s', 60]])).filter((r) => r.kind === 'final');
  expect(finals.length).toBe(3);
  // one VAD frame (32 ms) of granularity
  for (const f of finals) expect(f.end - f.start).toBeLessThanOrEqual(DEFAULT_SEGMENTER.maxUtteranceSeconds + 512 / SR);
  expect(finals[2].end).toBeCloseTo(60, 1);
});

test('a loud noisy room is not speech: the VAD, not the level, ends the utterance after 0.6 s', () => {
  // speech, then loud noise the VAD scores 0.1 (an energy floor would call it speech until the 25 s cap)
  const noise = Float32Array.from({ length: 5 * SR }, (_, i) => 0.2 * Math.sin(i * 1.7) * Math.sin(i * 0.013));
  const reqs = run(concat(tone(2), noise), probsOf([['s', 2], [0.1, 5]]));
  const finals = reqs.filter((r) => r.kind === 'final');
  expect(finals).toHaveLength(1);
  expect(finals[0].end).toBeGreaterThanOrEqual(2 + DEFAULT_SEGMENTER.pauseSeconds - 0.05);
  expect(finals[0].end).toBeLessThanOrEqual(2 + DEFAULT_SEGMENTER.pauseSeconds + 0.1);
});

test('frames between the thresholds continue speech, and do not end a pause once it began (vad.py hysteresis)', () => {
  // speech, 1 s at 0.4 (between neg_threshold 0.35 and 0.5): still the same utterance, no final yet
  const held = run(silence(4), probsOf([['s', 1], [0.4, 1], ['s', 1], ['q', 1]])).filter((r) => r.kind === 'final');
  expect(held).toHaveLength(1);
  // speech, 0.3 s pause, then 0.4 s at 0.4: the pause goes on (0.7 s ≥ 0.6): a final
  const ended = run(silence(4), probsOf([['s', 1], ['q', 0.3], [0.4, 0.4], ['s', 1], ['q', 1.3]])).filter((r) => r.kind === 'final');
  expect(ended).toHaveLength(2);
});
