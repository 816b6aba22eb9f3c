/**
 * Streamed OpenAI responses (api/routes/openai.ts): deltas sent from merged prefixes of the stored
 * chunks must concatenate to the final transcript's text, doubled words at cuts and words heard twice
 * in overlapping chunks included.
 */
import { finalPrefixSegments, mergeChunkSegments, segmentDeltas, transcriptText, type ChunkSegments } from '../../audio/transcript';

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

test('overlapping chunks: a chunk that overlaps the next is held back until the next is stored', () => {
  // 90 numbered words, one every 0.5 s; chunks 0–30 s, 27–57 s, 54–60 s overlap by 3 s (no pause to cut at).
  const w = (i: number) => `w${i}`;
  const segsOf = (from: number, to: number, offset: number) => {
    const out: { start: number; end: number; text: string }[] = [];
    for (let s = from; s < to; s += 10) {
      const ids = Array.from({ length: Math.min(10, to - s) }, (_, k) => s + k);
      out.push({ start: ids[0] * 0.5 - offset, end: ids[ids.length - 1] * 0.5 + 0.4 - offset, text: ids.map(w).join(' ') });
    }
    return out;
  };
  const chunks = [
    { index: 0, start: 0, end: 30, segments: segsOf(0, 60, 0), overlapsNext: true },
    { index: 1, start: 27, end: 57, segments: segsOf(54, 114, 27), overlapsNext: true },
    { index: 2, start: 54, end: 60, segments: segsOf(108, 120, 54), overlapsNext: false },
  ];
  const final = mergeChunkSegments(chunks, 60);
  expect(transcriptText(final)).toBe(Array.from({ length: 120 }, (_, i) => w(i)).join(' '));
  let sent = 0;
  const deltas: string[] = [];
  for (let k = 1; k <= chunks.length; k++) {
    const prefix = finalPrefixSegments(chunks.slice(0, k));
    expect(prefix.map((s) => s.text)).toEqual(final.slice(0, prefix.length).map((s) => s.text));
    deltas.push(...segmentDeltas(prefix, sent));
    sent = prefix.length;
  }
  // Only chunk 0 stored: nothing is final yet (its overlap's words may go to chunk 1).
  expect(finalPrefixSegments(chunks.slice(0, 1))).toEqual([]);
  expect(deltas.join('')).toBe(transcriptText(final));
  // Merging the raw prefix instead would have sent chunk 0's copy of the overlap and then chunk 1's.
  const naive = mergeChunkSegments(chunks.slice(0, 1), Infinity);
  expect(naive.map((s) => s.text).join(' ')).not.toBe(final.slice(0, naive.length).map((s) => s.text).join(' '));
});
