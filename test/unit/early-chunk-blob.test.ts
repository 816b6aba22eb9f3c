/**
 * A chunk's own blob (audio/pcm-blob.ts writeEarlyChunk / readEarlyChunk), published for chunks announced before a
 * remote store's PCM blob exists: it holds exactly the samples readChunkAudio reads from the PCM blob (pieces end to
 * end, else the span), checked against the same SHA-256s; readChunkAudio falls back to it only when the PCM blob is
 * missing. Run on the local store (the S3 path end to end: test/integration/blobs-s3.test.ts).
 */
import * as fs from 'node:fs';
import * as os from 'node:os';
import * as path from 'node:path';
import { BlobIntegrityError, BlobNotFoundError, LocalBlobStore, blobKeys } from '../../common/blobs';
import type { ChunkSpan } from '../../common/jobs';
import { readChunkAudio, readEarlyChunk, withChunkHashesFromFile, writeEarlyChunk } from '../../audio/pcm-blob';
import { mulberry32 } from '../helpers/prng';

let tmp: string;
let blobs: LocalBlobStore;
const SR = 16000;

beforeAll(() => {
  tmp = fs.mkdtempSync(path.join(os.tmpdir(), 'fs-early-chunk-'));
  blobs = new LocalBlobStore(tmp);
  const rand = mulberry32(7);
  const samples = Float32Array.from({ length: 20 * SR }, () => rand() * 2 - 1);
  fs.writeFileSync(blobs.prepare(blobKeys.pcm('job')), new Uint8Array(samples.buffer));
});

afterAll(() => fs.rmSync(tmp, { recursive: true, force: true }));

const CHUNKS: ChunkSpan[] = [
  { index: 0, start: 0.5, end: 7.25 },
  { index: 1, start: 8, end: 19.5, pieces: [{ start: 8, end: 9.3 }, { start: 12.01, end: 15 }, { start: 18, end: 19.5 }] },
];

test.each(CHUNKS)('chunk %# from its own blob equals the read from the PCM blob; the fallback reads it', async (plain) => {
  const pcm = blobs.prepare(blobKeys.pcm('job'));
  const chunk = await withChunkHashesFromFile(pcm, plain);
  const key = blobKeys.earlyChunk('job', chunk.index);
  const bytes = await writeEarlyChunk(blobs, key, pcm, chunk);
  const fromPcm = await readChunkAudio(blobs, blobKeys.pcm('job'), chunk);
  expect(bytes).toBe(fromPcm.length * 4);
  expect(await readEarlyChunk(blobs, key, chunk)).toEqual(fromPcm);
  // The PCM blob not published yet (another job's key here): readChunkAudio reads the chunk's own blob instead.
  expect(await readChunkAudio(blobs, blobKeys.pcm('not-yet'), chunk, key)).toEqual(fromPcm);
  await expect(readChunkAudio(blobs, blobKeys.pcm('not-yet'), chunk)).rejects.toBeInstanceOf(BlobNotFoundError);
});

test('a changed byte in the chunk blob fails its hash', async () => {
  const pcm = blobs.prepare(blobKeys.pcm('job'));
  const chunk = await withChunkHashesFromFile(pcm, CHUNKS[1]);
  const key = blobKeys.earlyChunk('job', 9);
  await writeEarlyChunk(blobs, key, pcm, chunk);
  const file = blobs.pathFor(key);
  const b = fs.readFileSync(file);
  b[b.length - 3] ^= 0x40; // in the last piece
  fs.writeFileSync(file, b);
  await expect(readEarlyChunk(blobs, key, chunk)).rejects.toBeInstanceOf(BlobIntegrityError);
});
