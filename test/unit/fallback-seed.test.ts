/** The temperature fallback's seed follows the chunk's audio, not the job (activities/inference.ts fallbackSeed). */
import { fallbackSeed } from '../../activities/inference';

const A = 'a'.repeat(64);
const B = 'b'.repeat(64);

test('equal audio gives the same seed in any job; other audio another; no hash falls back to job and chunk', () => {
  expect(fallbackSeed('job-1', { index: 0, start: 0, end: 10, sha256: A })).toBe(fallbackSeed('job-2', { index: 3, start: 5, end: 15, sha256: A }));
  expect(fallbackSeed('job-1', { index: 0, start: 0, end: 10, sha256: A })).not.toBe(fallbackSeed('job-1', { index: 0, start: 0, end: 10, sha256: B }));
  const pieces = (h: string[]) => ({ index: 1, start: 0, end: 20, pieces: h.map((sha256, i) => ({ start: i * 10, end: i * 10 + 5, sha256 })) });
  expect(fallbackSeed('job-1', pieces([A, B]))).toBe(fallbackSeed('job-9', pieces([A, B])));
  expect(fallbackSeed('job-1', pieces([A, B]))).not.toBe(fallbackSeed('job-1', pieces([B, A])));
  // without hashes (a piece lacks one): job and chunk, so a retry still samples the same tokens
  expect(fallbackSeed('job-1', { index: 2, start: 0, end: 10 })).toBe(fallbackSeed('job-1', { index: 2, start: 0, end: 10 }));
  expect(fallbackSeed('job-1', { index: 2, start: 0, end: 10 })).not.toBe(fallbackSeed('job-2', { index: 2, start: 0, end: 10 }));
  expect(fallbackSeed('job-1', { index: 1, start: 0, end: 20, pieces: [{ start: 0, end: 5, sha256: A }, { start: 10, end: 15 }] })).toBe(
    fallbackSeed('job-1', { index: 1, start: 0, end: 30 }),
  );
});
