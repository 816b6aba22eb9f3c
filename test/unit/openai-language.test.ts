/**
 * verbose_json's `language` on the OpenAI routes (api/openai-language.ts): always a string, as the official `openai`
 * client types it, also for an all-silent file, where nothing was detected and the job's own language is null.
 */
import { verboseLanguageCode, verboseLanguageFields } from '../../api/openai-language';

describe('verboseLanguageCode', () => {
  test('the requested language wins: the transcript was decoded in it (also with no speech heard)', () => {
    expect(verboseLanguageCode({ task: 'transcribe', requested: 'fr', jobLanguage: null })).toBe('fr');
    expect(verboseLanguageCode({ task: 'transcribe', requested: 'de', jobLanguage: 'de' })).toBe('de');
  });

  test('no language asked: the job’s (the one with the most speech)', () => {
    expect(verboseLanguageCode({ task: 'transcribe', jobLanguage: 'de' })).toBe('de');
    expect(verboseLanguageCode({ task: 'transcribe', requested: null, jobLanguage: 'pt' })).toBe('pt');
  });

  test('nothing asked and nothing heard (all silence): en, openai/whisper’s default, on either kind of model', () => {
    expect(verboseLanguageCode({ task: 'transcribe', jobLanguage: null })).toBe('en');
  });

  test('translations are in English whatever was spoken (openai-node TranslationVerbose: always english)', () => {
    expect(verboseLanguageCode({ task: 'translate', requested: 'de', jobLanguage: 'de' })).toBe('en');
    expect(verboseLanguageCode({ task: 'translate', jobLanguage: null })).toBe('en');
  });
});

describe('verboseLanguageFields', () => {
  test('names as OpenAI writes them, and the languages heard, most speech first', () => {
    expect(
      verboseLanguageFields({ task: 'transcribe', jobLanguage: 'en', languages: [{ language: 'en', seconds: 12.5 }, { language: 'de', seconds: 9 }] }),
    ).toEqual({ language: 'english', languages: [{ code: 'en' }, { code: 'de' }] });
  });

  test('all silence: a string language, and an empty languages list saying none was detected', () => {
    const silent = verboseLanguageFields({ task: 'transcribe', jobLanguage: null, languages: null });
    expect(silent).toEqual({ language: 'english', languages: [] });
    expect(typeof silent.language).toBe('string');
    expect(verboseLanguageFields({ task: 'transcribe', requested: 'fr', jobLanguage: null, languages: [] })).toEqual({ language: 'french', languages: [] });
  });

  test('translations: english, no languages list (OpenAI’s TranslationVerbose has none)', () => {
    expect(verboseLanguageFields({ task: 'translate', jobLanguage: 'de', languages: [{ language: 'de', seconds: 10 }] })).toEqual({ language: 'english' });
  });
});
