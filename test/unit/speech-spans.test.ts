/**
 * Speech spans from Silero VAD probabilities (audio/vad.ts: faster-whisper get_speech_timestamps), chunk
 * planning over them (audio/speech-spans.ts) and the mapping of times back to the original audio, on
 * synthetic probability tracks: 0.95 for speech frames, 0.02 for non-speech.
 */
import { DEFAULT_SPEECH_PLAN, findSpeechSpans, mapSegmentToOriginal, planSpeechChunks, spanSeconds } from '../../audio/speech-spans';
import { DEFAULT_VAD, speechTimestamps, VAD_FRAME_SAMPLES } from '../../audio/vad';

const SR = 16000;
const PAD = DEFAULT_VAD.speechPadMs / 1000;
const FRAME = VAD_FRAME_SAMPLES / SR;

/** A probability track: ['s', seconds] speech, ['q', seconds] non-speech; and its length in samples. */
function track(parts: ['s' | 'q', number][]): { probs: Float32Array; samples: number } {
  const probs: number[] = [];
  let t = 0;
  for (const [kind, seconds] of parts) {
    const end = t + seconds;
    while ((probs.length + 0.5) * FRAME < end) probs.push(kind === 's' ? 0.95 : 0.02);
    t = end;
  }
  return { probs: Float32Array.from(probs), samples: Math.round(t * SR) };
}

describe('speechTimestamps (faster-whisper vad.py)', () => {
  test('one speech stretch: a span padded by speech_pad_ms on both sides, clipped to the audio', () => {
    const { probs, samples } = track([['q', 3], ['s', 5], ['q', 4]]);
    const [s, ...rest] = speechTimestamps(probs, samples);
    expect(rest).toHaveLength(0);
    expect(s.start / SR).toBeCloseTo(3 - PAD, 1);
    expect(s.end / SR).toBeCloseTo(8 + PAD, 1);
    const atEdge = track([['s', 2], ['q', 0.1]]);
    expect(speechTimestamps(atEdge.probs, atEdge.samples)).toEqual([{ start: 0, end: atEdge.samples }]);
  });

  test('pauses shorter than min_silence_duration_ms stay inside; longer ones split', () => {
    const { probs, samples } = track([['s', 3], ['q', 1.5], ['s', 3], ['q', 3], ['s', 2]]);
    const spans = speechTimestamps(probs, samples);
    expect(spans).toHaveLength(2);
    expect(spans[0].end / SR).toBeCloseTo(7.5 + PAD, 1);
    expect(spans[1].start / SR).toBeCloseTo(10.5 - PAD, 1);
  });

  test('a blip shorter than min_speech_duration_ms (250 ms) is no speech', () => {
    const { probs, samples } = track([['q', 2], ['s', 0.15], ['q', 3]]);
    expect(speechTimestamps(probs, samples)).toEqual([]);
    const longer = track([['q', 2], ['s', 0.4], ['q', 3]]);
    expect(speechTimestamps(longer.probs, longer.samples)).toHaveLength(1);
  });

  test('neighbours closer than two pads share the gap half and half', () => {
    const { probs, samples } = track([['s', 2], ['q', 0.5], ['s', 2]]);
    const spans = speechTimestamps(probs, samples, { ...DEFAULT_VAD, minSilenceDurationMs: 100 });
    expect(spans).toHaveLength(2);
    expect(spans[0].end).toBe(spans[1].start);
    expect(spans[0].end / SR).toBeCloseTo(2.25, 1);
  });

  test('hysteresis: after speech, frames between neg_threshold and threshold continue it', () => {
    const probs = Float32Array.from([...Array(20).fill(0.9), ...Array(100).fill(0.4), ...Array(20).fill(0.01)]);
    const [s] = speechTimestamps(probs, probs.length * VAD_FRAME_SAMPLES, { ...DEFAULT_VAD, speechPadMs: 0, minSilenceDurationMs: 100 });
    expect(s.end).toBe(120 * VAD_FRAME_SAMPLES);
  });
});

describe('planSpeechChunks', () => {
  test('no speech (silence, noise): no spans, no chunks, nothing billed', () => {
    const { probs, samples } = track([['q', 45]]);
    expect(planSpeechChunks(probs, samples)).toEqual({ chunks: [], speechSeconds: 0, spans: [] });
  });

  test('speech + 20 s of non-speech + speech: one chunk of two pieces, billed for the padded speech only', () => {
    const { probs, samples } = track([['s', 6], ['q', 20], ['s', 6]]);
    const { chunks, speechSeconds } = planSpeechChunks(probs, samples);
    expect(chunks).toHaveLength(1);
    const c = chunks[0];
    expect(c.start).toBe(0);
    expect(c.end).toBeCloseTo(32, 1);
    expect(c.pieces).toHaveLength(2);
    expect(c.pieces![0].end).toBeCloseTo(6 + PAD, 1);
    expect(c.pieces![1].start).toBeCloseTo(26 - PAD, 1);
    expect(speechSeconds).toBeCloseTo(12 + 2 * PAD, 1);
  });

  test('continuous speech with no pause: ≤ 30 s chunks that overlap by 3 s, billed once', () => {
    const { probs, samples } = track([['s', 70]]);
    const { chunks, speechSeconds } = planSpeechChunks(probs, samples);
    expect(chunks.length).toBe(3);
    chunks.forEach((c, i) => {
      expect(c.pieces).toBeUndefined();
      expect(c.end - c.start).toBeLessThanOrEqual(30 + 1e-9);
      if (i > 0) expect(chunks[i - 1].end - c.start).toBeCloseTo(DEFAULT_SPEECH_PLAN.overlapSeconds, 6);
      expect(c.overlapsPrev ?? false).toBe(i > 0);
      expect(c.overlapsNext ?? false).toBe(i < chunks.length - 1);
    });
    expect(chunks[2].end).toBeCloseTo(70, 2);
    expect(speechSeconds).toBeCloseTo(70, 2);
  });

  test('speech with short pauses: cut in the middle of the longest pause near the limit, no overlap', () => {
    // 4 s of speech, then 0.3 s pauses, except a 0.6 s pause at 21.2–21.8 s: in the last 10 s before the
    // limit lie pauses at 21.5 s (0.6 s) and 25.95 s (0.3 s); the cut goes to the longer one
    const parts: ['s' | 'q', number][] = [];
    for (let k = 0; k < 12; k++) parts.push(['s', 4], ['q', k === 4 ? 0.6 : 0.3]);
    const { probs, samples } = track(parts);
    const { chunks } = planSpeechChunks(probs, samples);
    expect(chunks[0].start).toBe(0);
    expect(chunks[0].end).toBeCloseTo(21.5, 1);
    expect(chunks[1].start).toBe(chunks[0].end);
    expect(chunks.every((c) => c.end - c.start <= 30)).toBe(true);
  });

  test('a cut never lands in removed non-speech: chunks hold only kept audio', () => {
    const { probs, samples } = track([['s', 25], ['q', 10], ['s', 25], ['q', 10], ['s', 25]]);
    const { chunks, speechSeconds, spans } = planSpeechChunks(probs, samples);
    const kept = chunks.flatMap((c) => c.pieces ?? [{ start: c.start, end: c.end }]);
    for (const p of kept) {
      for (const [a, b] of [[25 + PAD, 35 - PAD], [60 + PAD, 70 - PAD]]) expect(p.end <= a + 0.05 || p.start >= b - 0.05).toBe(true);
    }
    expect(spanSeconds(kept)).toBeCloseTo(speechSeconds, 2);
    expect(speechSeconds).toBeCloseTo(spanSeconds(findSpeechSpans(probs, samples)), 6);
    expect(spans).toHaveLength(3);
    expect(speechSeconds).toBeCloseTo(75 + 4 * PAD, 1);
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

  test('a short word across the junction whose start goes after the pause keeps its end there (not zero-length)', () => {
    // the first word after the pause, aligned 0.1 s before the junction (A's margin) to 0.3 s after it
    expect(mapSegmentToOriginal({ start: 5.9, end: 6.3 }, pieces)).toEqual({ start: 27.5, end: 27.8 });
    // a word ending in the margin after the junction whose start stays before it still ends with the speech before
    expect(mapSegmentToOriginal({ start: 5.2, end: 6.3 }, pieces)).toEqual({ start: 7.7, end: 8.5 });
  });

  test('times are clipped to the chunk and end ≥ start', () => {
    const r = mapSegmentToOriginal({ start: 13.9, end: 20 }, pieces);
    expect(r.start).toBeCloseTo(35.4, 6);
    expect(r.end).toBe(35.5);
  });
});
