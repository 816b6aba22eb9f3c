/**
 * One chunk of a job's normalised audio (float32, 16 kHz mono: blobKeys.pcm or one channel's) read from the blob store
 * as a byte range, checked against the SHA-256 that audio preparation recorded for exactly those bytes.
 * The same range arithmetic on both sides, so the hash always covers what the reader gets.
 */
import * as crypto from 'node:crypto';
import * as fs from 'node:fs';
import { BlobIntegrityError, BlobNotFoundError, type BlobStore } from '../common/blobs';
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
  checkSha256(bytes, chunk.sha256, `${key}[${first}:${last}]`);
  return alignedSamples(bytes);
}

/** @throws BlobIntegrityError when `expected` is given and `bytes` do not hash to it (`what` names them) */
function checkSha256(bytes: Uint8Array, expected: string | undefined, what: string): void {
  if (!expected) return;
  const actual = crypto.createHash('sha256').update(bytes).digest('hex');
  if (actual !== expected) throw new BlobIntegrityError(what, expected, actual);
}

/** `bytes` as float32 samples in a fresh, aligned buffer: the engine thread takes ownership of it (transfer). */
function alignedSamples(bytes: Uint8Array): Float32Array {
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
export async function readChunkAudio(blobs: BlobStore, key: string, chunk: ChunkSpan, earlyKey?: string): Promise<Float32Array> {
  try {
    if (!chunk.pieces) return await readChunkSamples(blobs, key, chunk);
    const parts: Float32Array[] = [];
    for (const p of chunk.pieces) parts.push(await readChunkSamples(blobs, key, p));
    return concatSamples(parts);
  } catch (err) {
    // A chunk started while its job's audio is still prepared on a remote store: the PCM blob is published only at
    // the end of preparation, the chunk's own object (writeEarlyChunk) before it was announced.
    if (err instanceof BlobNotFoundError && earlyKey !== undefined) return readEarlyChunk(blobs, earlyKey, chunk);
    throw err;
  }
}

/** The stretches of a chunk that inference reads, in order: its pieces, else its whole span. */
function rangesOf(chunk: ChunkSpan): { start: number; end: number; sha256?: string }[] {
  return chunk.pieces ?? [chunk];
}

/**
 * Writes a chunk's audio, exactly the bytes readChunkAudio would read from the PCM blob (its pieces' ranges end to
 * end, else its span), from the PCM file being prepared `pcmFile` (the chunk's samples are already in it) to its own
 * blob `key`, published (`commit`). For chunks announced before the PCM blob itself is published (a remote store,
 * activities/audio.ts). Idempotent: the same chunk of the same file gives the same bytes.
 * @returns the bytes written (float32 samples × 4)
 */
export async function writeEarlyChunk(blobs: BlobStore, key: string, pcmFile: string, chunk: ChunkSpan): Promise<number> {
  const out = blobs.prepare(key);
  const src = await fs.promises.open(pcmFile, 'r');
  const dst = await fs.promises.open(out, 'w');
  let bytes = 0;
  try {
    for (const r of rangesOf(chunk)) {
      const [first, last] = chunkSampleRange(r);
      const buf = Buffer.alloc((last - first) * BYTES_PER_SAMPLE);
      const { bytesRead } = await src.read(buf, 0, buf.length, first * BYTES_PER_SAMPLE);
      await dst.write(buf, 0, bytesRead);
      bytes += bytesRead;
    }
  } finally {
    await src.close();
    await dst.close();
  }
  await blobs.commit(key);
  return bytes;
}

/**
 * A chunk's audio from its own blob (writeEarlyChunk), each stretch checked against the SHA-256 preparation recorded
 * for it (the same bytes as in the PCM blob, so the same hashes).
 * @throws BlobIntegrityError, BlobNotFoundError
 */
export async function readEarlyChunk(blobs: BlobStore, key: string, chunk: ChunkSpan): Promise<Float32Array> {
  const bytes = await blobs.read(key);
  let at = 0;
  for (const r of rangesOf(chunk)) {
    const [first, last] = chunkSampleRange(r);
    const part = bytes.subarray(at, Math.min(bytes.length, at + (last - first) * BYTES_PER_SAMPLE));
    checkSha256(part, r.sha256, `${key}[${first}:${last}]`);
    at += part.length;
  }
  return alignedSamples(bytes);
}
