/** Words through chunk merging (audio/transcript.ts) and through removed silence (audio/speech-spans.ts). */
import { mapWordToOriginal, mergeChunkSegments, wordChunkRelativeTimes } from '../../audio/transcript';
import { chunkRelativeTimes, mapSegmentToOriginal } from '../../audio/speech-spans';
import { toStoredSegments } from '../../audio/segment-map';

const w = (word: string, start: number, end: number) => ({ word, start, end, probability: 0.9 });

describe('mergeChunkSegments with words', () => {
  it('shifts words by the chunk start and keeps them inside their segment', () => {
    const out = mergeChunkSegments(
      [
        { index: 0, start: 0, end: 10, segments: [{ start: 1, end: 3, text: 'Hello there', words: [w(' Hello', 0.9, 2), w(' there', 2, 3.2)] }] },
        { index: 1, start: 20, end: 30, segments: [{ start: 0.5, end: 2, text: 'Bye', words: [w(' Bye', 0.5, 2)] }] },
      ],
      30,
    );
    expect(out).toEqual([
      { start: 1, end: 3, text: 'Hello there', words: [w(' Hello', 1, 2), w(' there', 2, 3)] },
      { start: 20.5, end: 22, text: 'Bye', words: [w(' Bye', 20.5, 22)] },
    ]);
  });

  it('drops the words a chunk repeats across a cut, word by word, and starts at the first kept word', () => {
    const out = mergeChunkSegments(
      [
        { index: 0, start: 0, end: 10, segments: [{ start: 7, end: 10, text: 'ask not what your', words: [w(' ask', 7, 7.5), w(' not', 7.5, 8), w(' what', 8, 9), w(' your', 9, 10)] }] },
        { index: 1, start: 10, end: 20, segments: [{ start: 0, end: 2, text: 'your country.', words: [w(' your', 0, 0.4), w(' country.', 0.5, 2)] }] },
      ],
      20,
    );
    expect(out[1].text).toBe('country.');
    expect(out[1].words).toEqual([w(' country.', 10.5, 12)]);
    expect(out[1].start).toBe(10.5);
  });

  it('segments without words stay without words', () => {
    const out = mergeChunkSegments([{ index: 0, start: 0, end: 5, segments: [{ start: 0, end: 1, text: 'x' }] }], 5);
    expect(out[0]).not.toHaveProperty('words');
  });
});

describe('words through removed silence', () => {
  it('a word after a removed pause keeps its true start, as its segment does', () => {
    // chunk 0–20 s with 4–12 s removed: the compacted audio is [0, 4) + [12, 20)
    const chunk = { index: 0, start: 0, end: 20, pieces: [{ start: 0, end: 4 }, { start: 12, end: 20 }] };
    const seg = chunkRelativeTimes(chunk, { start: 3, end: 6 });
    const words = [
      chunkRelativeTimes(chunk, { start: 3, end: 3.6 }),
      chunkRelativeTimes(chunk, { start: 4.2, end: 6 }),
    ];
    expect(words[0]).toEqual({ start: 3, end: 3.6 });
    expect(words[1]).toEqual({ start: 12.2, end: 14 });
    expect(seg).toEqual({ start: 3, end: 14 });
    for (const x of words) {
      expect(x.start).toBeGreaterThanOrEqual(seg.start);
      expect(x.end).toBeLessThanOrEqual(seg.end);
    }
  });
});

describe('mapWordToOriginal (faster-whisper restore_speech_timestamps: the piece of the word\'s middle)', () => {
  // pieces A = 2.5–8.5 s and B = 27.5–35.5 s of the original; on the compacted audio A is 0–6 s, B 6–14 s
  const pieces = [
    { start: 2.5, end: 8.5 },
    { start: 27.5, end: 35.5 },
  ];

  it('a word the alignment put across the junction, mostly after it, lies in B only', () => {
    const w = { start: 5.0, end: 7.4 }; // middle 6.2: B, shift 21.5
    const m = mapWordToOriginal(w, pieces);
    expect(m.start).toBeCloseTo(27.5, 9); // 26.5 clamped to B's start: the removed audio was never heard
    expect(m.end).toBeCloseTo(28.9, 9);
    // mapping start and end separately (as segments are) would stretch it over the removed 19 s
    const separately = mapSegmentToOriginal(w, pieces);
    expect(separately.end - separately.start).toBeGreaterThan(19);
  });

  it('a word mostly before the junction lies in A only, clamped to A\'s end', () => {
    const m = mapWordToOriginal({ start: 5.5, end: 6.3 }, pieces); // middle 5.9: A, shift 2.5
    expect(m.start).toBeCloseTo(8.0, 9);
    expect(m.end).toBeCloseTo(8.5, 9);
  });

  it('a word inside one piece moves by that piece\'s offset, its length kept', () => {
    const m = mapWordToOriginal({ start: 7.0, end: 7.4 }, pieces);
    expect(m.start).toBeCloseTo(28.5, 9);
    expect(m.end).toBeCloseTo(28.9, 9);
    expect(mapWordToOriginal({ start: 1, end: 1.5 }, pieces)).toEqual({ start: 3.5, end: 4 });
  });

  it('the middle exactly at the junction goes to the later piece (bisect_right, as faster-whisper)', () => {
    const m = mapWordToOriginal({ start: 5.9, end: 6.1 }, pieces);
    expect(m.start).toBeCloseTo(27.5, 9);
    expect(m.end).toBeCloseTo(27.6, 9);
  });

  it('past the last piece the word stays in it; no pieces leaves it unchanged', () => {
    expect(mapWordToOriginal({ start: 13.8, end: 14.5 }, pieces)).toEqual({ start: 35.3, end: 35.5 });
    expect(mapWordToOriginal({ start: 1, end: 2 }, [])).toEqual({ start: 1, end: 2 });
  });

  it('words in order stay in order and never overlap across a junction', () => {
    const words = [
      { start: 5.0, end: 5.7 },
      { start: 5.7, end: 6.5 },
      { start: 6.5, end: 6.9 },
    ];
    const mapped = words.map((w) => mapWordToOriginal(w, pieces));
    for (let i = 1; i < mapped.length; i++) expect(mapped[i].start).toBeGreaterThanOrEqual(mapped[i - 1].end);
    for (const m of mapped) {
      expect(m.end).toBeGreaterThanOrEqual(m.start);
      expect(pieces.some((p) => m.start >= p.start && m.end <= p.end)).toBe(true);
    }
  });

  it('chunk-relative: shifted by the chunk start without pieces, centiseconds', () => {
    expect(wordChunkRelativeTimes({ start: 60 }, { start: 1.234, end: 1.567 })).toEqual({ start: 1.23, end: 1.57 });
    expect(wordChunkRelativeTimes({ start: 2.5, pieces }, { start: 5.8, end: 6.6 })).toEqual({ start: 25, end: 25.6 });
  });

  it('a stored segment whose last word straddles a junction spans its words, not the removed pause', () => {
    const chunk = { index: 0, start: 2.5, end: 35.5, pieces };
    const [s] = toStoredSegments(chunk, [
      {
        start: 4.0,
        end: 6.6,
        text: 'on the left.',
        avgLogprob: -0.2,
        noSpeechProb: 0.01,
        temperature: 0,
        compressionRatio: 1,
        tokens: [1],
        windowStart: 0,
        words: [w(' on', 4.0, 4.3), w(' the', 4.3, 4.5), w(' left.', 4.5, 6.6)], // middle 5.55: A
      },
    ]);
    expect(s.words!.map((x) => [x.start, x.end])).toEqual([
      [4, 4.3],
      [4.3, 4.5],
      [4.5, 6],
    ]);
    expect(s.start).toBe(4);
    expect(s.end).toBe(6); // A's end (8.5 s) from the chunk start, not 25.6 in B after the removed pause
  });
});
