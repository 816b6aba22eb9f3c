/**
 * Seeded randomness for sampling at temperature > 0. A retried activity must produce the same text
 * (idempotence), so every random draw comes from a PRNG seeded by the job, chunk, window and
 * temperature, never from Math.random. Browser-safe.
 */

/**
 * mulberry32 (Tommy Ettinger's 32-bit generator; the constants are the algorithm's).
 * @returns a function giving uniform floats in [0, 1)
 */
export function mulberry32(seed: number): () => number {
  let a = seed >>> 0;
  return () => {
    a = (a + 0x6d2b79f5) >>> 0;
    let t = a;
    t = Math.imul(t ^ (t >>> 15), t | 1);
    t ^= t + Math.imul(t ^ (t >>> 7), t | 61);
    return ((t ^ (t >>> 14)) >>> 0) / 4294967296;
  };
}

/**
 * 32-bit FNV-1a over the parts' text joined by '\u0000' (FNV's published offset basis and prime):
 * a stable seed from identifiers such as (job id, chunk index, window offset, temperature).
 */
export function seedFrom(...parts: (string | number)[]): number {
  let h = 0x811c9dc5;
  const s = parts.map(String).join('\u0000');
  for (let i = 0; i < s.length; i++) {
    h ^= s.charCodeAt(i);
    h = Math.imul(h, 0x01000193);
  }
  return h >>> 0;
}
