/**
 * Silence removal before inference and the mapping of times back to the original audio
 * (audio/speech-spans.ts), on synthetic audio: tones for speech, a -80 dBFS floor for silence.
 */
import { DEFAULT_SPEECH_SPANS, findSpeechSpans, mapSegmentToOriginal, planSpeechChunks, spanSeconds } from '../../audio/speech-spans';
import { mulberry32 } from '../helpers/prng';

const SR = 16000;
const M = DEFAULT_SPEECH_SPANS.marginSeconds;

/** Parts laid end to end: ['s', seconds] a voiced tone at about -14 dBFS, ['q', seconds] silence. */
function synth(parts: ['s' | 'q', number][]): Float32Array {
  const rand = mulberry32(3);
  const tone = Float32Array.from({ length: SR }, (_, i) => 0.3 * Math.sin((2 * Math.PI * 140 * i) / SR) * (0.8 + 0.2 * Math.sin((2 * Math.PI * 4 * i) / SR)));
  const quiet = Float32Array.from({ length: SR }, () => 1e-4 * (rand() * 2 - 1));
  const out = new Float32Array(Math.round(parts.reduce((n, [, s]) => n + s, 0) * SR));
  let at = 0;
  for (const [kind, seconds] of parts) {
    const src = kind === 's' ? tone : quiet;
    const n = Math.round(seconds * SR);
    for (let i = 0; i < n; i += SR) out.set(src.subarray(0, Math.min(SR, n - i)), at + i);
    at += n;
  }
  return out;
}

describe('findSpeechSpans', () => {
  test('drops leading, trailing and long inner silence, keeps short pauses and a margin around speech', () => {
    // speech 3–8 s, 20 s silence, speech 28–32, a 1 s pause, speech 33–35, 6 s of trailing silence
    const audio = synth([['q', 3], ['s', 5], ['q', 20], ['s', 4], ['q', 1], ['s', 2], ['q', 6]]);
    const spans = findSpeechSpans(audio);
    expect(spans).toHaveLength(2);
    expect(spans[0].start).toBeCloseTo(3 - M, 1);
    expect(spans[0].end).toBeCloseTo(8 + M, 1);
    expect(spans[1].start).toBeCloseTo(28 - M, 1);
    expect(spans[1].end).toBeCloseTo(35 + M, 1);
    expect(spanSeconds(spans)).toBeCloseTo(5 + 7 + 4 * M, 1);
  });

  test('silence only: no spans, no chunks, nothing billed', () => {
    const audio = synth([['q', 12]]);
    expect(planSpeechChunks(audio)).toEqual({ chunks: [], speechSeconds: 0 });
  });
});

describe('planSpeechChunks', () => {
  test('speech + 20 s silence + speech: one chunk of two pieces, billed for the speech only', () => {
    const audio = synth([['s', 6], ['q', 20], ['s', 6]]);
    const { chunks, speechSeconds } = planSpeechChunks(audio);
    expect(chunks).toHaveLength(1);
    const c = chunks[0];
    expect(c.start).toBe(0);
    expect(c.end).toBeCloseTo(32, 2);
    expect(c.pieces).toHaveLength(2);
    expect(c.pieces![0].end).toBeCloseTo(6 + M, 1);
    expect(c.pieces![1].start).toBeCloseTo(26 - M, 1);
    expect(speechSeconds).toBeCloseTo(12 + 2 * M, 1);
    expect(speechSeconds).toBeLessThan(audio.length / SR);
  });

  test('continuous speech is cut into ≤ 30 s chunks end to end, without pieces', () => {
    const audio = synth([['s', 70]]);
    const { chunks, speechSeconds } = planSpeechChunks(audio);
    expect(chunks.length).toBeGreaterThanOrEqual(3);
    chunks.forEach((c, i) => {
      expect(c.pieces).toBeUndefined();
      expect(c.end - c.start).toBeLessThanOrEqual(30);
      if (i > 0) expect(c.start).toBe(chunks[i - 1].end);
    });
    expect(speechSeconds).toBeCloseTo(70, 2);
  });

  test('a chunk boundary never lands in removed silence: chunks hold only kept audio', () => {
    // 25 s + 25 s + 25 s of speech with 10 s pauses: the compacted audio (~77 s) needs ≥ 3 chunks
    const audio = synth([['s', 25], ['q', 10], ['s', 25], ['q', 10], ['s', 25]]);
    const { chunks, speechSeconds } = planSpeechChunks(audio);
    const kept = chunks.flatMap((c) => c.pieces ?? [{ start: c.start, end: c.end }]);
    for (const p of kept) {
      for (const [a, b] of [[25 + M, 35 - M], [60 + M, 70 - M]]) expect(p.end <= a + 0.05 || p.start >= b - 0.05).toBe(true);
    }
    expect(spanSeconds(kept)).toBeCloseTo(speechSeconds, 6);
    expect(speechSeconds).toBeCloseTo(75 + 4 * M, 1);
  });
});

describe('mapSegmentToOriginal', () => {
  // pieces of a chunk: A = 2.5–8.5 s and B = 27.5–35.5 s of the original; laid end to end, B starts at 6 s
  const pieces = [{ start: 2.5, end: 8.5 }, { start: 27.5, end: 35.5 }];
  test('inside a piece a time moves by the piece’s offset', () => {
    expect(mapSegmentToOriginal({ start: 0.6, end: 5.4 }, pieces)).toEqual({ start: 3.1, end: 7.9 });
    expect(mapSegmentToOriginal({ start: 6.6, end: 9 }, pieces)).toEqual({ start: 28.1, end: 30.5 });
  });

  test('a segment after the removed pause keeps its true start, even when the model puts it in the margin', () => {
    // the model starts the segment 0.3 s before the junction, in A's trailing silence
    expect(mapSegmentToOriginal({ start: 5.7, end: 8 }, pieces).start).toBe(27.5);
  });

  test('a segment ending in the margin after the junction ends with the speech before the pause', () => {
    expect(mapSegmentToOriginal({ start: 3, end: 6.3 }, pieces)).toEqual({ start: 5.5, end: 8.5 });
  });

  test('times are clipped to the chunk and end ≥ start', () => {
    const r = mapSegmentToOriginal({ start: 13.9, end: 20 }, pieces);
    expect(r.start).toBeCloseTo(35.4, 6);
    expect(r.end).toBe(35.5);
  });
});
