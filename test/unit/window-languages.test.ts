/** Languages per window (common/window-languages.ts): unsure windows, ties, the job's languages, routing. */
import {
  assignWindowLanguages,
  chunkSpeechSeconds,
  jobLanguages,
  LANGUAGE_SURE_PROBABILITY,
  routingLanguage,
  type WindowSpeech,
  windowLanguagesAfterFirstPass,
} from '../../common/window-languages';

const w = (language: string, probability: number | null, seconds = 28): WindowSpeech => ({ language, probability, seconds });

describe('assignWindowLanguages', () => {
  test('sure windows keep their detection; a switch stays where it is', () => {
    expect(assignWindowLanguages([w('en', 0.9), w('en', 0.8), w('de', 0.7), w('de', 0.95)])).toEqual(['en', 'en', 'de', 'de']);
  });

  test('an unsure window between two windows of one language inherits it, whatever it detected', () => {
    expect(assignWindowLanguages([w('de', 0.9), w('nn', 0.3), w('de', 0.8)])).toEqual(['de', 'de', 'de']);
  });

  test('unsure windows at the start or the end inherit their only sure neighbour', () => {
    expect(assignWindowLanguages([w('nn', 0.2), w('cy', 0.4), w('en', 0.9), w('la', 0.1)])).toEqual(['en', 'en', 'en', 'en']);
  });

  test('between two languages: the window’s own detection breaks the tie when it names one of them', () => {
    expect(assignWindowLanguages([w('en', 0.9), w('de', 0.45), w('en', 0.3), w('de', 0.9)])).toEqual(['en', 'de', 'en', 'de']);
  });

  test('between two languages, detecting neither: the nearer sure window; at equal distance the earlier', () => {
    // windows 1 and 2 are unsure: 1 is nearer en, 2 nearer de
    expect(assignWindowLanguages([w('en', 0.9), w('fr', 0.2), w('fr', 0.2), w('de', 0.9)])).toEqual(['en', 'en', 'de', 'de']);
    // one unsure window in the middle: equal distance, the earlier language goes on
    expect(assignWindowLanguages([w('en', 0.9), w('fr', 0.2), w('de', 0.9)])).toEqual(['en', 'en', 'de']);
  });

  test('all unsure: every window gets the language with the most seconds × probability', () => {
    expect(assignWindowLanguages([w('nn', 0.3, 10), w('en', 0.4, 28), w('en', 0.45, 20), w('de', 0.49, 28)])).toEqual(['en', 'en', 'en', 'en']);
    // a tie goes to the first detected
    expect(assignWindowLanguages([w('de', 0.4, 10), w('en', 0.4, 10)])).toEqual(['de', 'de']);
  });

  test('a given language or an English-only model (probability null) is sure', () => {
    expect(assignWindowLanguages([w('en', null), w('de', 0.1)])).toEqual(['en', 'en']);
  });

  test('the threshold is the boundary: at it, sure; just below, unsure', () => {
    const t = LANGUAGE_SURE_PROBABILITY;
    expect(assignWindowLanguages([w('en', 0.9), w('de', t)])).toEqual(['en', 'de']);
    expect(assignWindowLanguages([w('en', 0.9), w('de', t - 0.01)])).toEqual(['en', 'en']);
  });

  test('no windows, no languages', () => {
    expect(assignWindowLanguages([])).toEqual([]);
  });
});

describe('windowLanguagesAfterFirstPass', () => {
  const f = (language: string, probability: number | null, transcribedIn: string | null, channel?: number) => ({ ...w(language, probability), transcribedIn, channel });

  test('a transcribed window keeps the language it was transcribed in; a deferred one inherits its neighbours’', () => {
    expect(windowLanguagesAfterFirstPass([f('en', 0.9, 'en'), f('nn', 0.3, null), f('en', 0.8, 'en'), f('de', 0.45, null), f('de', 0.9, 'de')])).toEqual([
      'en',
      'en',
      'en',
      'de',
      'de',
    ]);
  });

  test('windows inherit only within their channel', () => {
    // channel 1's unsure window has no sure neighbour in channel 1 but channel 0's German; it stays with its own channel's evidence
    expect(windowLanguagesAfterFirstPass([f('de', 0.9, 'de', 0), f('en', 0.4, null, 1), f('de', 0.9, 'de', 0), f('en', 0.3, null, 1)])).toEqual(['de', 'en', 'de', 'en']);
  });

  test('no window sure: every window in the language with the most evidence', () => {
    expect(windowLanguagesAfterFirstPass([f('de', 0.2, null), f('en', 0.45, null)])).toEqual(['en', 'en']);
  });
});

describe('jobLanguages', () => {
  test('the language with the most speech, its own windows’ probability, seconds per language', () => {
    const windows = [w('en', 0.9, 20), w('en', 0.7, 10), w('de', 0.6, 28), w('nn', 0.2, 5)];
    const r = jobLanguages(windows, ['en', 'en', 'de', 'de']);
    expect(r.language).toBe('de');
    // de's probability from the window that detected de, not from the inherited nn window
    expect(r.languageProbability).toBeCloseTo(0.6, 4);
    expect(r.languages).toEqual([{ language: 'de', seconds: 33 }, { language: 'en', seconds: 30 }]);
  });

  test('English-only model: en, no probability', () => {
    expect(jobLanguages([w('en', null, 12.345)], ['en'])).toEqual({ language: 'en', languageProbability: null, languages: [{ language: 'en', seconds: 12.35 }] });
  });

  test('speech-weighted probability; equal seconds → the first heard', () => {
    const r = jobLanguages([w('fr', 0.8, 10), w('en', 0.9, 30), w('en', 0.5, 10), w('fr', 0.9, 30)], ['fr', 'en', 'en', 'fr']);
    expect(r.language).toBe('fr');
    expect(r.languageProbability).toBeCloseTo((0.8 * 10 + 0.9 * 30) / 40, 4);
  });

  test('no speech: no language', () => {
    expect(jobLanguages([], [])).toEqual({ language: null, languageProbability: null, languages: [] });
  });
});

describe('routingLanguage', () => {
  test('most speech among the sure detections of the first windows', () => {
    expect(routingLanguage([w('en', 0.9, 5), w('de', 0.8, 28), w('en', 0.9, 20)])).toBe('de');
    // an unsure window does not vote while a sure one exists
    expect(routingLanguage([w('nn', 0.3, 28), w('en', 0.9, 4)])).toBe('en');
  });

  test('none sure: all of them vote', () => {
    expect(routingLanguage([w('nn', 0.3, 5), w('de', 0.4, 20)])).toBe('de');
  });
});

describe('chunkSpeechSeconds', () => {
  test('pieces count, and what a chunk shares with the previous one counts once', () => {
    expect(
      chunkSpeechSeconds([
        { start: 0, end: 30, pieces: [{ start: 0, end: 10 }, { start: 15, end: 30 }] },
        { start: 27, end: 50 },
        { start: 60, end: 70 },
      ]),
    ).toEqual([25, 20, 10]);
  });

  test('channels are counted apart', () => {
    expect(chunkSpeechSeconds([{ start: 0, end: 10, channel: 0 }, { start: 0, end: 10, channel: 1 }])).toEqual([10, 10]);
  });
});
