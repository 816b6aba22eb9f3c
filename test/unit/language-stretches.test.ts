/** "The right language per stretch" score of eval:wer's no-language rows (bench/language-stretches.ts). */
import { formatLabelScores, languageLabelScores } from '../../bench/language-stretches';

const stretches = [
  { start: 0, end: 4, language: 'en', words: 10 },
  { start: 4, end: 8, language: 'en', words: 10 },
  { start: 8, end: 12, language: 'de', words: 12 },
];

describe('languageLabelScores', () => {
  test('segments labelled with their stretch’s language: every word right', () => {
    const segs = [
      { start: 0.2, end: 7.6, language: 'en' },
      { start: 8.3, end: 11.8, language: 'de' },
    ];
    expect(languageLabelScores(stretches, segs)).toEqual([
      { language: 'en', words: 20, right: 20 },
      { language: 'de', words: 12, right: 12 },
    ]);
  });

  test('one language for the whole file: the other language’s words are all wrong', () => {
    const segs = [{ start: 0, end: 12, language: 'en' }];
    expect(languageLabelScores(stretches, segs)).toEqual([
      { language: 'en', words: 20, right: 20 },
      { language: 'de', words: 12, right: 0 },
    ]);
  });

  test('a segment across the switch labels each side by its overlap; uncovered seconds do not count', () => {
    // the German stretch: 1 s under an English segment, 2 s under a German one, 1 s under none → 2/3 of its words
    const segs = [
      { start: 0, end: 9, language: 'en' },
      { start: 10, end: 12, language: 'de' },
    ];
    const [en, de] = languageLabelScores(stretches, segs);
    expect(en.right).toBe(20);
    expect(de.right).toBeCloseTo(8, 10);
  });

  test('a stretch under no segment counts no word right; a segment without a language counts as wrong', () => {
    const segs = [{ start: 0, end: 4, language: undefined }];
    expect(languageLabelScores(stretches, segs)).toEqual([
      { language: 'en', words: 20, right: 0 },
      { language: 'de', words: 12, right: 0 },
    ]);
  });

  test('formatted per language, right of words', () => {
    expect(formatLabelScores([{ language: 'en', words: 20, right: 20 }, { language: 'de', words: 12, right: 8.04 }])).toBe('en 20/20 de 8/12');
    expect(formatLabelScores([{ language: 'de', words: 12, right: 7.66 }])).toBe('de 7.7/12');
  });
});
