/**
 * Chunk numbers shown to users (api/chunk-numbers.ts): a multichannel job's internal index
 * channel × 100000 + i reads as {chunk: i, channel}, below progress.chunksTotal like a one-channel job's.
 */
import { channelChunk, publicChunk } from '../../api/chunk-numbers';
import { CHANNEL_CHUNK_STRIDE } from '../../activities/channels';

test('channel c chunk i: {chunk: i, channel: c}', () => {
  expect(channelChunk(0)).toEqual({ chunk: 0, channel: 0 });
  expect(channelChunk(3)).toEqual({ chunk: 3, channel: 0 });
  expect(channelChunk(CHANNEL_CHUNK_STRIDE)).toEqual({ chunk: 0, channel: 1 });
  expect(channelChunk(7 * CHANNEL_CHUNK_STRIDE + 12)).toEqual({ chunk: 12, channel: 7 });
});

test('a segment event of a multichannel job: chunk within its channel, plus channel; other fields kept', () => {
  const ev = { chunk: CHANNEL_CHUNK_STRIDE + 2, start: 1, end: 2, text: ' hi', language: 'en', version: 1 };
  expect(publicChunk(ev, true)).toEqual({ chunk: 2, channel: 1, start: 1, end: 2, text: ' hi', language: 'en', version: 1 });
});

test('one-channel jobs and objects without a chunk are unchanged', () => {
  const ev = { chunk: 5, start: 0, end: 1, text: 'x' };
  expect(publicChunk(ev, false)).toBe(ev);
  const p = { chunksDone: 1, chunksTotal: 2 };
  expect(publicChunk(p as { chunk?: number }, true)).toBe(p);
});
