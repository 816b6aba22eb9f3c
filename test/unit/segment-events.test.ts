/**
 * SSE `segment` events (activities/chunk-results.ts segmentEventsOnStore): whatever order a job's chunks
 * are stored in, the events written are the final transcript's segments, each once: doubled words at a cut
 * between back-to-back chunks and words heard twice in overlapping chunks included.
 */
import { segmentEventsOnStore, type StoredChunkRow } from '../../activities/chunk-results';
import { CHANNEL_CHUNK_STRIDE } from '../../activities/channels';
import { mergeChunkSegments } from '../../audio/transcript';

const seg = (start: number, end: number, text: string) => ({ start, end, text });
const row = (chunk_index: number, start_s: number, end_s: number, segments: StoredChunkRow['segments'], overlap = {}): StoredChunkRow => ({
  chunk_index,
  start_s,
  end_s,
  segments,
  overlap_prev: false,
  overlap_next: false,
  ...overlap,
});

/** Every order of 0…n-1. */
function permutations(n: number): number[][] {
  if (n === 0) return [[]];
  return permutations(n - 1).flatMap((p) => Array.from({ length: n }, (_, i) => [...p.slice(0, i), n - 1, ...p.slice(i)]));
}

/** Stores the rows one by one in `order` and collects the events each store writes. */
function eventsInOrder(rows: StoredChunkRow[], order: number[]) {
  const stored: StoredChunkRow[] = [];
  const events = [];
  for (const i of order) {
    stored.push(rows[i]!);
    const index = rows[i]!.chunk_index;
    events.push(...segmentEventsOnStore(stored.filter((r) => Math.abs(r.chunk_index - index) <= 2), index));
  }
  return events.sort((a, b) => a.chunk - b.chunk || a.start - b.start);
}

function expectFinal(rows: StoredChunkRow[], audioSeconds: number): void {
  const final = mergeChunkSegments(
    rows.map((r) => ({ index: r.chunk_index, start: r.start_s, end: r.end_s, segments: r.segments })),
    audioSeconds,
  );
  for (const order of permutations(rows.length)) {
    const events = eventsInOrder(rows, order);
    expect({ order, texts: events.map((e) => e.text) }).toEqual({ order, texts: final.map((s) => s.text) });
    expect(events.map((e) => [e.start, e.end])).toEqual(final.map((s) => [s.start, s.end]));
  }
}

test('back-to-back chunks: a segment of only the word doubled at the cut is never sent, in any store order', () => {
  // Chunk 1 starts exactly where chunk 0 ended (a cut inside speech) and first hears "country." again:
  // the merge drops that segment, so 3 final segments, not 4 (test/integration/events.test.ts saw 6 vs 5).
  expectFinal(
    [
      row(0, 0, 11, [seg(0, 4, ' And so my fellow Americans,'), seg(4, 10.9, ' ask not what your country can do for you, ask what you can do for your country.')]),
      row(1, 11, 22, [seg(0, 0.6, ' country.'), seg(0.6, 4, ' And so my fellow Americans,')]),
      row(2, 22, 30, [seg(0, 3, ' ask not')]),
    ],
    30,
  );
});

test('doubled words trimmed from a segment, a removed silence and an overlap, in any store order', () => {
  expectFinal(
    [
      row(0, 0, 30, [seg(0, 4, ' And so my fellow Americans,'), seg(4, 29.9, ' ask not what your country')]),
      row(1, 30, 55, [seg(0, 3, ' country can do for you,'), seg(6, 24, ' ask what you can do')], { overlap_next: true }),
      row(2, 50, 70, [seg(0, 4, ' you can do'), seg(4, 9, ' for your country.')], { overlap_prev: true }),
      row(3, 75, 80, [seg(0, 2, ' Thank you.')]),
    ],
    80,
  );
});

test("a channel's first chunk does not wait for a chunk before it (activities/channels.ts numbering)", () => {
  const first = row(CHANNEL_CHUNK_STRIDE, 0, 5, [seg(0, 2, ' Hello from the right channel.')]);
  expect(segmentEventsOnStore([first], CHANNEL_CHUNK_STRIDE).map((e) => e.text)).toEqual(['Hello from the right channel.']);
  // its next chunk waits for it, as within any channel
  const next = row(CHANNEL_CHUNK_STRIDE + 1, 5, 9, [seg(0, 2, ' And more.')]);
  expect(segmentEventsOnStore([next], CHANNEL_CHUNK_STRIDE + 1)).toEqual([]);
  expect(segmentEventsOnStore([first, next], CHANNEL_CHUNK_STRIDE + 1).map((e) => e.text)).toEqual(['And more.']);
});
