/**
 * The chunk numbers users see. A multichannel job numbers channel c's chunk i internally as
 * `c × CHANNEL_CHUNK_STRIDE + i` (activities/channels.ts), so chunk_results, retries and progress work as for a
 * one-channel job; that encoding (100000, 100001, …) is not shown. An SSE `segment` event and a job's
 * `fallbacks[]` name such a chunk as `{chunk: i, channel: c}`: `chunk` is the chunk's 0-based index within its
 * channel (below `progress.chunksTotal`, as for a one-channel job), `channel` the job JSON's 0-based channel.
 * One-channel jobs are unchanged.
 */
import { CHANNEL_CHUNK_STRIDE } from '../activities/channels';

/** `{chunk, channel}` of an internal chunk index of a multichannel job. */
export function channelChunk(index: number): { chunk: number; channel: number } {
  return { chunk: index % CHANNEL_CHUNK_STRIDE, channel: Math.floor(index / CHANNEL_CHUNK_STRIDE) };
}

/** An object carrying an internal `chunk` index, as users see it (multichannel: `chunk` within `channel`). */
export function publicChunk<T extends { chunk?: unknown }>(data: T, multichannel: boolean): T {
  if (!multichannel || typeof data.chunk !== 'number') return data;
  return { ...data, ...channelChunk(data.chunk) };
}
