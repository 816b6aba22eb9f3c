/**
 * Speech spans from Silero VAD probabilities (audio/vad.ts: faster-whisper get_speech_timestamps), chunk
 * planning over them (audio/speech-spans.ts) and the mapping of times back to the original audio, on
 * synthetic probability tracks: 0.95 for speech frames, 0.02 for non-speech.
 */
import { DEFAULT_SPEECH_PLAN, FASTER_WHISPER_MAX_CHUNK_SECONDS, findSpeechSpans, mapSegmentToOriginal, planSpeechChunks, spanSeconds } from '../../audio/speech-spans';
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

  test("speech + 20 s of non-speech + speech: two chunks, as a chunk's original span stays ≤ 30 s (merge_segments); billed for the padded speech only", () => {
    // the old rule laid both spans end to end (12.8 s of speech) and sent them as one window across the pause
    const { probs, samples } = track([['s', 6], ['q', 20], ['s', 6]]);
    const { chunks, speechSeconds } = planSpeechChunks(probs, samples);
    expect(chunks).toHaveLength(2);
    expect(chunks[0]).toEqual({ index: 0, start: 0, end: expect.closeTo(6 + PAD, 1) });
    expect(chunks[1]).toEqual({ index: 1, start: expect.closeTo(26 - PAD, 1), end: 32 });
    expect(speechSeconds).toBeCloseTo(12 + 2 * PAD, 1);
  });

  test('spans whose original span fits in 30 s share a chunk: the pause removed (pieces), or kept as collect_chunks keeps it', () => {
    const { probs, samples } = track([['s', 6], ['q', 10], ['s', 6], ['q', 10], ['s', 6]]);
    const removed = planSpeechChunks(probs, samples).chunks;
    // 0–22.4 holds two spans (22.4 ≤ 30); the third ends at 38 > 30 from 0, so it starts the next chunk
    expect(removed).toHaveLength(2);
    expect(removed[0].start).toBe(0);
    expect(removed[0].end).toBeCloseTo(22 + PAD, 1);
    expect(removed[0].pieces).toHaveLength(2);
    expect(removed[0].pieces![0].end).toBeCloseTo(6 + PAD, 1);
    expect(removed[0].pieces![1].start).toBeCloseTo(16 - PAD, 1);
    expect(removed[1].start).toBeCloseTo(32 - PAD, 1);
    expect(removed[1].pieces).toBeUndefined();
    const kept = planSpeechChunks(probs, samples, { ...DEFAULT_SPEECH_PLAN, keepPauses: true }).chunks;
    expect(kept.map(({ start, end }) => ({ start, end }))).toEqual(removed.map(({ start, end }) => ({ start, end })));
    expect(kept.every((c) => c.pieces === undefined)).toBe(true);
  });

  test("a long pause always separates chunks: no chunk's original span passes 30 s", () => {
    // 12 s, a 25 s pause, 12 s: 24.8 s of speech that the old rule sent as one window (eval:wer's "30 s pause" row)
    const { probs, samples } = track([['s', 12], ['q', 25], ['s', 12], ['q', 3], ['s', 40]]);
    const { chunks } = planSpeechChunks(probs, samples, { ...DEFAULT_SPEECH_PLAN, maxSpeechSeconds: FASTER_WHISPER_MAX_CHUNK_SECONDS });
    for (const c of chunks) expect(c.end - c.start).toBeLessThanOrEqual(30 + 1e-9);
    expect(chunks[0].end).toBeCloseTo(12 + PAD, 1);
    expect(chunks[1].start).toBeCloseTo(37 - PAD, 1);
  });

  test('continuous speech with no pause: pieces of ≤ 29.168 s (vad.py max_speech_samples) that overlap by 3 s, billed once', () => {
    expect(FASTER_WHISPER_MAX_CHUNK_SECONDS).toBeCloseTo(30 - 512 / 16000 - 2 * 0.4, 9);
    const { probs, samples } = track([['s', 70]]);
    const { chunks, speechSeconds } = planSpeechChunks(probs, samples, { ...DEFAULT_SPEECH_PLAN, maxSpeechSeconds: FASTER_WHISPER_MAX_CHUNK_SECONDS });
    expect(chunks.length).toBe(3);
    chunks.forEach((c, i) => {
      expect(c.pieces).toBeUndefined();
      expect(c.end - c.start).toBeLessThanOrEqual(FASTER_WHISPER_MAX_CHUNK_SECONDS + 1e-3);
      if (i > 0) expect(chunks[i - 1].end - c.start).toBeCloseTo(DEFAULT_SPEECH_PLAN.overlapSeconds, 2);
      expect(c.overlapsPrev ?? false).toBe(i > 0);
      expect(c.overlapsNext ?? false).toBe(i < chunks.length - 1);
    });
    expect(chunks[0].end).toBeCloseTo(FASTER_WHISPER_MAX_CHUNK_SECONDS, 2);
    expect(chunks[2].end).toBeCloseTo(70, 2);
    expect(speechSeconds).toBeCloseTo(70, 2);
  });

  test('continuous speech with no pause at the 30 s setting: ≤ 30 s chunks that overlap by 3 s', () => {
    const { probs, samples } = track([['s', 70]]);
    const { chunks } = planSpeechChunks(probs, samples, { ...DEFAULT_SPEECH_PLAN, maxSpeechSeconds: 30 });
    expect(chunks.length).toBe(3);
    chunks.forEach((c, i) => {
      expect(c.end - c.start).toBeLessThanOrEqual(30 + 1e-9);
      if (i > 0) expect(chunks[i - 1].end - c.start).toBeCloseTo(DEFAULT_SPEECH_PLAN.overlapSeconds, 2);
    });
  });

  test('a cut at a removed pause wins over a clear pause inside speech (a switch of language or speaker)', () => {
    // English 20 s, 3 s of silence, German 25 s with a 0.7 s pause 5 s in. The old rule (compacted speech, the latest
    // clear pause near the limit) cut at that pause, 5 s into the German, and one chunk held both languages.
    const { probs, samples } = track([['s', 20], ['q', 3], ['s', 5], ['q', 0.7], ['s', 20], ['q', 1]]);
    const { chunks } = planSpeechChunks(probs, samples, { ...DEFAULT_SPEECH_PLAN, maxSpeechSeconds: FASTER_WHISPER_MAX_CHUNK_SECONDS });
    expect(chunks).toHaveLength(2);
    expect(chunks[0].end).toBeCloseTo(20 + PAD, 1);
    expect(chunks[1].start).toBeCloseTo(23 - PAD, 1);
    expect(chunks[1].end).toBeCloseTo(samples / SR, 2); // a pause shorter than min_silence_duration_ms at the end: the span runs to the audio's end
  });

  test("languages.test.ts's long English-then-German layout: no chunk holds both sides of the switch", () => {
    // sentences of ~3.4 s with 0.25 s gaps and a 0.7 s pause about 27 s into each side, 3 s of silence at the switch
    const side = (seconds: number): ['s' | 'q', number][] => {
      const parts: ['s' | 'q', number][] = [];
      let t = 0;
      while (t < seconds) {
        const say = Math.min(3.4, seconds - t);
        parts.push(['s', say]);
        t += say;
        if (t < seconds) parts.push(['q', Math.abs(t - 27) < 1.8 ? 0.7 : 0.25]);
      }
      return parts;
    };
    const en = side(83);
    const enSeconds = en.reduce((s, [, d]) => s + d, 0);
    const { probs, samples } = track([...en, ['q', 3], ...side(38)]);
    const switchAt = enSeconds + 1.5;
    for (const maxSpeechSeconds of [30, FASTER_WHISPER_MAX_CHUNK_SECONDS]) {
      const { chunks } = planSpeechChunks(probs, samples, { ...DEFAULT_SPEECH_PLAN, maxSpeechSeconds });
      for (const c of chunks) expect(c.end <= switchAt || c.start >= switchAt).toBe(true);
      for (const c of chunks) expect(c.end - c.start).toBeLessThanOrEqual(30 + 1e-9);
      expect(chunks.length).toBeGreaterThanOrEqual(4);
    }
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
