/**
 * The in-memory reference for the chunk hashes audio preparation computes while streaming
 * (audio/pcm-blob.ts withChunkHashesFromFile, checked by readChunkSamples): the same bytes, hashed from a
 * Float32Array held whole, so a test can check the streamed result against it.
 */
import * as crypto from 'node:crypto';
import { chunkSampleRange } from '../../audio/pcm-blob';
import type { ChunkSpan } from '../../common/jobs';

/** Hex SHA-256 of a chunk's samples as stored (little-endian float32 bytes). */
export function chunkSha256(samples: Float32Array, chunk: { start: number; end: number }): string {
  const [first, last] = chunkSampleRange(chunk);
  const part = samples.subarray(first, Math.min(last, samples.length));
  return crypto.createHash('sha256').update(new Uint8Array(part.buffer, part.byteOffset, part.byteLength)).digest('hex');
}

/** withChunkHashesFromFile's result computed from the whole PCM `samples` the chunk was planned on. */
export function withChunkHashes<C extends ChunkSpan>(samples: Float32Array, chunk: C): C {
  if (chunk.pieces) return { ...chunk, pieces: chunk.pieces.map((p) => ({ ...p, sha256: chunkSha256(samples, p) })) };
  return { ...chunk, sha256: chunkSha256(samples, chunk) };
}
