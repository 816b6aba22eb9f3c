/** Words through chunk merging (audio/transcript.ts) and through removed silence (audio/speech-spans.ts). */
import { mergeChunkSegments } from '../../audio/transcript';
import { chunkRelativeTimes } from '../../audio/speech-spans';

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
