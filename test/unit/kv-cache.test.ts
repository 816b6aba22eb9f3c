/**
 * engine/kv-cache.ts: the self-attention cache laid out in reused buffers holds, after every append, exactly what the
 * decoder's own present.* would: each [t, headDim] row block followed by the new position (a Concat on the
 * sequence axis), across capacity growth and buffer reuse.
 */
import { Float32Pool, SelfAttentionCache } from '../../engine/kv-cache';

function random(n: number, seed: number): Float32Array {
  const out = new Float32Array(n);
  let x = seed;
  for (let i = 0; i < n; i++) {
    x = (x * 1103515245 + 12345) % 2 ** 31;
    out[i] = x / 2 ** 31 - 0.5;
  }
  return out;
}

/** present [rows, t, d] with `last` [rows, d] appended on the sequence axis: [rows, t + 1, d] */
function concat(present: Float32Array, last: Float32Array, rows: number, t: number, d: number): Float32Array {
  const out = new Float32Array(rows * (t + 1) * d);
  for (let r = 0; r < rows; r++) {
    out.set(present.subarray(r * t * d, (r + 1) * t * d), r * (t + 1) * d);
    out.set(last.subarray(r * d, (r + 1) * d), (r * (t + 1) + t) * d);
  }
  return out;
}

/** index of the first difference (bits, as Object.is), -1 when equal; toEqual on 100 k floats per step is slow */
function firstDifference(a: Float32Array, b: Float32Array): number {
  if (a.length !== b.length) return Math.min(a.length, b.length);
  for (let i = 0; i < a.length; i++) if (!Object.is(a[i], b[i])) return i;
  return -1;
}

describe('SelfAttentionCache', () => {
  const rows = 2 * 6; // batch 2 × 6 heads
  const d = 64;

  it('after load and each append equals the present.* a Concat makes, past the first capacity (64 positions)', () => {
    const pool = new Float32Pool();
    const count = 4;
    const cache = new SelfAttentionCache(count, rows, d, pool);
    const prompt = 3;
    let expected = Array.from({ length: count }, (_, i) => random(rows * prompt * d, i + 1));
    cache.load(expected, prompt);
    for (let step = 0; step < 100; step++) {
      const t = cache.length;
      const lasts = Array.from({ length: count }, (_, i) => random(rows * d, 1000 * step + i + 7));
      cache.append(lasts);
      expected = expected.map((e, i) => concat(e, lasts[i], rows, t, d));
      expect(cache.length).toBe(t + 1);
      for (let i = 0; i < count; i++) expect(firstDifference(cache.view(i), expected[i])).toBe(-1);
    }
  });

  it('gives its buffers back to the pool and a later decode reuses them without stale positions', () => {
    const pool = new Float32Pool();
    const first = new SelfAttentionCache(2, rows, d, pool);
    first.load([random(rows * 5 * d, 1), random(rows * 5 * d, 2)], 5);
    first.append([random(rows * d, 3), random(rows * d, 4)]);
    const held = [first.view(0).buffer, first.view(1).buffer];
    const size = first.view(0).buffer.byteLength / 4;
    first.release();
    // its four buffers (two per cache) are in the pool
    const taken = [1, 2, 3, 4].map(() => pool.take(size));
    for (const h of held) expect(taken.map((t) => t.buffer)).toContain(h);
    pool.give(taken);
    const second = new SelfAttentionCache(2, rows, d, pool);
    const a = random(rows * 2 * d, 5);
    const b = random(rows * 2 * d, 6);
    second.load([a, b], 2);
    expect(taken.map((t) => t.buffer)).toContain(second.view(0).buffer);
    expect(firstDifference(second.view(0), a)).toBe(-1);
    expect(firstDifference(second.view(1), b)).toBe(-1);
  });

  it('refuses caches of the wrong size', () => {
    const cache = new SelfAttentionCache(1, rows, d, new Float32Pool());
    expect(() => cache.load([random(10, 1)], 2)).toThrow(/expected/);
    cache.load([random(rows * 2 * d, 1)], 2);
    expect(() => cache.append([random(rows * d - 1, 2)])).toThrow(/expected/);
  });
});
