/**
 * One chunk of a job's normalised audio (float32, 16 kHz mono: blobKeys.pcm or one channel's) read from the blob store
 * as a byte range, checked against the SHA-256 that audio preparation recorded for exactly those bytes.
 * The same range arithmetic on both sides, so the hash always covers what the reader gets.
 */
import * as crypto from 'node:crypto';
import { BlobIntegrityError, type BlobStore } from '../common/blobs';
import type { ChunkSpan } from '../common/jobs';
import { SAMPLE_RATE } from '../engine/constants';

const BYTES_PER_SAMPLE = Float32Array.BYTES_PER_ELEMENT;

/** Sample indices [first, last) of a chunk (seconds → samples, rounded as readPcmRange does). */
export function chunkSampleRange(chunk: { start: number; end: number }): [number, number] {
  const first = Math.max(0, Math.round(chunk.start * SAMPLE_RATE));
  return [first, Math.max(first, Math.round(chunk.end * SAMPLE_RATE))];
}

/** Hex SHA-256 of a chunk's samples as stored (little-endian float32 bytes). */
export function chunkSha256(samples: Float32Array, chunk: { start: number; end: number }): string {
  const [first, last] = chunkSampleRange(chunk);
  const part = samples.subarray(first, Math.min(last, samples.length));
  return crypto.createHash('sha256').update(new Uint8Array(part.buffer, part.byteOffset, part.byteLength)).digest('hex');
}

/**
 * A chunk's samples `[samples]` from a PCM blob (blobKeys.pcm, or blobKeys.channelPcm of one channel).
 * @throws BlobIntegrityError when the chunk carries a hash and the bytes do not match; BlobNotFoundError
 */
export async function readChunkSamples(blobs: BlobStore, key: string, chunk: ChunkSpan): Promise<Float32Array> {
  const [first, last] = chunkSampleRange(chunk);
  const bytes = await blobs.readRange(key, first * BYTES_PER_SAMPLE, last * BYTES_PER_SAMPLE);
  if (chunk.sha256) {
    const actual = crypto.createHash('sha256').update(bytes).digest('hex');
    if (actual !== chunk.sha256) throw new BlobIntegrityError(`${key}[${first}:${last}]`, chunk.sha256, actual);
  }
  // Copy into a fresh, aligned buffer: the engine thread takes ownership of it (transfer).
  const out = new Float32Array(Math.floor(bytes.length / BYTES_PER_SAMPLE));
  new Uint8Array(out.buffer).set(bytes.subarray(0, out.byteLength));
  return out;
}
