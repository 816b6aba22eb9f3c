/**
 * Streamed OpenAI responses (api/routes/openai.ts): deltas sent from merged prefixes of the stored
 * chunks must concatenate to the final transcript's text, doubled words at cuts included.
 */
import { mergeChunkSegments, segmentDeltas, transcriptText, type ChunkSegments } from '../../audio/transcript';

const seg = (start: number, end: number, text: string) => ({ start, end, text });

const chunks: ChunkSegments[] = [
  { index: 0, start: 0, end: 30, segments: [seg(0, 4, ' And so my fellow Americans,'), seg(4, 29.9, ' ask not what your country')] },
  // starts at the cut and repeats "country": merging drops the doubled word from this chunk only
  { index: 1, start: 30, end: 55, segments: [seg(0, 3, ' country can do for you,'), seg(3, 6, '   '), seg(6, 24, ' ask what you can do')] },
  { index: 2, start: 60, end: 70, segments: [] },
  { index: 3, start: 70, end: 80, segments: [seg(0, 2, 'for your country.')] },
];

test('deltas from each stored prefix concatenate to the final text, one per segment, in order', () => {
  const final = mergeChunkSegments(chunks, 80);
  let sent = 0;
  const deltas: string[] = [];
  for (let k = 1; k <= chunks.length; k++) {
    const prefix = mergeChunkSegments(chunks.slice(0, k), Infinity);
    // each prefix's segments are the final transcript's leading segments (text-wise)
    expect(prefix.map((s) => s.text)).toEqual(final.slice(0, prefix.length).map((s) => s.text));
    deltas.push(...segmentDeltas(prefix, sent));
    sent = prefix.length;
  }
  expect(deltas.join('')).toBe(transcriptText(final));
  expect(deltas).toHaveLength(final.length);
  expect(deltas[0]).toBe('And so my fellow Americans,');
  expect(deltas[2]).toBe(' can do for you,');
});

test('nothing new, nothing sent; a first segment has no leading space', () => {
  expect(segmentDeltas([{ text: 'a' }], 1)).toEqual([]);
  expect(segmentDeltas([{ text: ' a ' }, { text: 'b' }], 0)).toEqual(['a', ' b']);
});
