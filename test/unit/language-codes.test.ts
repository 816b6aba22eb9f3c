/**
 * `language` as users send it: ISO 639-1 (the field's documented form), including the codes Whisper spells otherwise
 * (`jv` → Whisper's `jw`, withdrawn `iw` → `he`), and Whisper's own names and aliases (openai/whisper tokenizer.py
 * TO_LANGUAGE_CODE). What the job runs with is Whisper's code; what OpenAI's verbose_json reports is the name.
 */
import { isoLanguageCode, whisperLanguageCode, WHISPER_LANGUAGES } from '../../common/languages';
import { createJobFields, liveStartMessage, openAiFields } from '../../api/schemas';
import { verboseLanguageFields } from '../../api/openai-language';

test.each([
  ['jv', 'jw'],
  ['iw', 'he'],
  ['in', 'id'],
  ['ji', 'yi'],
  ['mo', 'ro'],
  ['nb', 'no'],
  ['jw', 'jw'],
  ['he', 'he'],
  ['en', 'en'],
  ['EN', 'en'],
  ['javanese', 'jw'],
  ['Hebrew', 'he'],
  ['mandarin', 'zh'],
  ['castilian', 'es'],
  ['haitian creole', 'ht'],
])('language %s is Whisper language %s', (input, code) => {
  expect(whisperLanguageCode(input)).toBe(code);
  expect(WHISPER_LANGUAGES[code]).toBeDefined();
});

test.each(['xx', 'klingon', '', 'english ', 'e'])('language %j is not one Whisper has', (input) => {
  if (input === 'english ') expect(whisperLanguageCode(input)).toBe('en'); // surrounding space is not a different language
  else expect(whisperLanguageCode(input)).toBeNull();
});

test('every route that takes a language parses jv and iw to the codes Whisper decodes with, and still refuses unknown ones', () => {
  expect(openAiFields.parse({ model: 'whisper-1', language: 'jv' }).language).toBe('jw');
  expect(createJobFields.parse({ language: 'iw' }).language).toBe('he');
  expect(liveStartMessage.parse({ type: 'start', language: 'jv', sampleRate: 16000, encoding: 'pcm_s16le' }).language).toBe('jw');
  const bad = openAiFields.safeParse({ model: 'whisper-1', language: 'xx' });
  expect(bad.success).toBe(false);
  expect(bad.error!.issues[0]!.message).toMatch(/ISO 639-1/);
});

test("verbose_json names the language (OpenAI's form) and gives ISO 639-1 codes in languages[]", () => {
  expect(verboseLanguageFields({ task: 'transcribe', requested: 'jw', jobLanguage: 'jw', languages: [{ language: 'jw', seconds: 3 }] })).toEqual({
    language: 'javanese',
    languages: [{ code: 'jv' }],
  });
  expect(verboseLanguageFields({ task: 'transcribe', requested: 'he', jobLanguage: 'he', languages: [] }).language).toBe('hebrew');
  expect(isoLanguageCode('en')).toBe('en');
});
