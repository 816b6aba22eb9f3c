import { toStoredSegments } from '../../audio/segment-map';
import type { ChunkSpan } from '../../audio/chunk-plan';
import type { Segment } from '../../engine/transcriber';

const seg = (start: number, end: number, extra: Partial<Segment> = {}): Segment => ({
  start,
  end,
  text: ' hello there',
  avgLogprob: -0.25,
  noSpeechProb: 0.01,
  temperature: 0,
  compressionRatio: 1.1,
  tokens: [1, 2, 3],
  windowStart: 0,
  ...extra,
});

describe('toStoredSegments', () => {
  test('a chunk without removed silence: times stay chunk-relative at centiseconds, Whisper’s figures kept', () => {
    const chunk: ChunkSpan = { index: 3, start: 60, end: 90 };
    const [s] = toStoredSegments(chunk, [seg(1.234, 4.567)]);
    expect(s).toEqual({
      start: 1.23,
      end: 4.57,
      text: ' hello there',
      avgLogprob: -0.25,
      noSpeechProb: 0.01,
      compressionRatio: 1.1,
      temperature: 0,
      tokens: [1, 2, 3],
      windowStart: 0,
    });
    expect(s).not.toHaveProperty('words');
  });

  test('a chunk with a removed pause: a segment after it keeps its true start; its words map the same way and stay inside it', () => {
    // pieces A = 2.5–8.5 s and B = 27.5–35.5 s of the original; laid end to end, B starts at 6 s of the chunk audio
    const chunk: ChunkSpan = { index: 0, start: 2.5, end: 35.5, pieces: [{ start: 2.5, end: 8.5 }, { start: 27.5, end: 35.5 }] };
    const words = [
      { word: ' hello', start: 6.6, end: 7.0, probability: 0.987654321 },
      { word: ' there', start: 7.1, end: 9.0, probability: 0.5 },
    ];
    const [s] = toStoredSegments(chunk, [seg(6.6, 9.0, { words })]);
    // 6.6 s of chunk audio is 0.6 s into B = 28.1 s of the original = 25.6 s after the chunk's start
    expect(s.start).toBe(25.6);
    expect(s.end).toBe(28);
    expect(s.words).toEqual([
      { word: ' hello', start: 25.6, end: 26, probability: 0.9877 },
      { word: ' there', start: 26.1, end: 28, probability: 0.5 },
    ]);
    for (const w of s.words!) {
      expect(w.start).toBeGreaterThanOrEqual(s.start);
      expect(w.end).toBeLessThanOrEqual(s.end);
    }
  });

  test('the decoding window’s start maps like the segment and never lands after it', () => {
    const chunk: ChunkSpan = { index: 0, start: 2.5, end: 35.5, pieces: [{ start: 2.5, end: 8.5 }, { start: 27.5, end: 35.5 }] };
    // a window starting at 6.6 s of chunk audio (0.6 s into B) = 25.6 s after the chunk's start
    const [a] = toStoredSegments(chunk, [seg(7.0, 9.0, { windowStart: 6.6 })]);
    expect(a.windowStart).toBe(25.6);
    expect(a.start).toBe(26);
    // a window starting at 3 s (inside A) with its segment in B: the window starts in A's time
    const [b] = toStoredSegments(chunk, [seg(6.5, 9.0, { windowStart: 3 })]);
    expect(b.windowStart).toBe(3);
    expect(b.start).toBe(25.5);
    // rounding never puts the window after the segment
    const [c] = toStoredSegments({ index: 0, start: 0, end: 30 }, [seg(1.004, 2, { windowStart: 1.004 })]);
    expect(c.windowStart).toBeLessThanOrEqual(c.start);
  });

  test('no segments → none stored', () => {
    expect(toStoredSegments({ index: 0, start: 0, end: 30 }, [])).toEqual([]);
  });
});
