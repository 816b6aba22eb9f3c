/** Edge results may carry words (jobs made with wordTimestamps); the server validates them like segments. */
import { edgeResultSchema } from '../../api/edge/schemas';

const seg = (words?: { word: string; start: number; end: number; probability: number }[]) => ({
  text: ' Hello there',
  language: 'en',
  segments: [{ start: 1, end: 2, text: ' Hello there', ...(words ? { words } : {}) }],
});

describe('edge-result words', () => {
  it('accepts words inside their segment, in order', () => {
    const r = edgeResultSchema.safeParse(seg([
      { word: ' Hello', start: 1, end: 1.4, probability: 0.9 },
      { word: ' there', start: 1.4, end: 2, probability: 0.8 },
    ]));
    expect(r.success).toBe(true);
  });
  it('accepts segments without words', () => {
    expect(edgeResultSchema.safeParse(seg()).success).toBe(true);
  });
  it.each([
    ['outside the segment', [{ word: ' Hello', start: 0.5, end: 1.4, probability: 0.9 }]],
    ['overlapping', [{ word: ' a', start: 1, end: 1.6, probability: 0.9 }, { word: ' b', start: 1.4, end: 2, probability: 0.9 }]],
    ['ending before it starts', [{ word: ' a', start: 1.5, end: 1.2, probability: 0.9 }]],
    ['a probability over 1', [{ word: ' a', start: 1, end: 1.2, probability: 1.5 }]],
  ])('refuses words %s', (_why, words) => {
    expect(edgeResultSchema.safeParse(seg(words)).success).toBe(false);
  });
  it('refuses unknown word fields', () => {
    expect(edgeResultSchema.safeParse(seg([{ word: ' a', start: 1, end: 1.2, probability: 0.9, x: 1 } as never])).success).toBe(false);
  });
});
