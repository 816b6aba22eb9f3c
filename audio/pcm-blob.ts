/**
 * One chunk of a job's normalised audio (float32, 16 kHz mono: blobKeys.pcm or one channel's) read from the blob store
 * as a byte range, checked against the SHA-256 that audio preparation recorded for exactly those bytes.
 * The same range arithmetic on both sides, so the hash always covers what the reader gets.
 */
import * as crypto from 'node:crypto';
import { BlobIntegrityError, type BlobStore } from '../common/blobs';
import type { ChunkSpan } from '../common/jobs';
import { SAMPLE_RATE } from '../engine/constants';
import { readPcmBlocks } from './ffmpeg';
import { concatSamples } from './speech-spans';

const BYTES_PER_SAMPLE = Float32Array.BYTES_PER_ELEMENT;

/** Sample indices [first, last) of a chunk (seconds → samples, rounded to the nearest sample). */
export function chunkSampleRange(chunk: { start: number; end: number }): [number, number] {
  const first = Math.max(0, Math.round(chunk.start * SAMPLE_RATE));
  return [first, Math.max(first, Math.round(chunk.end * SAMPLE_RATE))];
}

/**
 * A chunk's samples `[samples]` from a PCM blob (blobKeys.pcm, or blobKeys.channelPcm of one channel).
 * @throws BlobIntegrityError when the chunk carries a hash and the bytes do not match; BlobNotFoundError
 */
export async function readChunkSamples(blobs: BlobStore, key: string, chunk: { start: number; end: number; sha256?: string }): Promise<Float32Array> {
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

/**
 * Hex SHA-256 of a chunk's samples `[first, last)` (chunkSampleRange) as stored, i.e. of their little-endian float32
 * bytes, read from a float32 PCM file in blocks (readPcmBlocks) so the file is never held whole.
 */
export async function chunkSha256FromFile(file: string, chunk: { start: number; end: number }, blockSamples?: number): Promise<string> {
  const hash = crypto.createHash('sha256');
  for await (const block of readPcmBlocks(file, [chunkSampleRange(chunk)], blockSamples)) {
    hash.update(new Uint8Array(block.buffer, block.byteOffset, block.byteLength));
  }
  return hash.digest('hex');
}

/**
 * A chunk with the SHA-256 of what a worker will read (readChunkAudio checks it): of each piece where silence was
 * removed inside it (audio/speech-spans.ts), else of the whole range. For audio preparation, on the normalised PCM
 * file it planned the chunk on, each range read back in blocks of `blockSamples`.
 */
export async function withChunkHashesFromFile<C extends ChunkSpan>(file: string, chunk: C, blockSamples?: number): Promise<C> {
  if (chunk.pieces) {
    const pieces = [];
    for (const p of chunk.pieces) pieces.push({ ...p, sha256: await chunkSha256FromFile(file, p, blockSamples) });
    return { ...chunk, pieces };
  }
  return { ...chunk, sha256: await chunkSha256FromFile(file, chunk, blockSamples) };
}

/**
 * A chunk's audio as inference sees it: its pieces read (each checked against its hash) and laid end to
 * end where silence was removed inside it, else the whole range — only speech is read, never the silence.
 * @throws BlobIntegrityError, BlobNotFoundError as readChunkSamples
 */
export async function readChunkAudio(blobs: BlobStore, key: string, chunk: ChunkSpan): Promise<Float32Array> {
  if (!chunk.pieces) return readChunkSamples(blobs, key, chunk);
  const parts: Float32Array[] = [];
  for (const p of chunk.pieces) parts.push(await readChunkSamples(blobs, key, p));
  return concatSamples(parts);
}
