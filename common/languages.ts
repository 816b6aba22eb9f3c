/**
 * Whisper's languages: ISO 639-1 code → English name, as in openai/whisper `tokenizer.py` LANGUAGES.
 * OpenAI's `verbose_json` names the language by these lowercase names ("english").
 */
export const WHISPER_LANGUAGES: Record<string, string> = {
  en: 'english', zh: 'chinese', de: 'german', es: 'spanish', ru: 'russian', ko: 'korean', fr: 'french',
  ja: 'japanese', pt: 'portuguese', tr: 'turkish', pl: 'polish', ca: 'catalan', nl: 'dutch', ar: 'arabic',
  sv: 'swedish', it: 'italian', id: 'indonesian', hi: 'hindi', fi: 'finnish', vi: 'vietnamese', he: 'hebrew',
  uk: 'ukrainian', el: 'greek', ms: 'malay', cs: 'czech', ro: 'romanian', da: 'danish', hu: 'hungarian',
  ta: 'tamil', no: 'norwegian', th: 'thai', ur: 'urdu', hr: 'croatian', bg: 'bulgarian', lt: 'lithuanian',
  la: 'latin', mi: 'maori', ml: 'malayalam', cy: 'welsh', sk: 'slovak', te: 'telugu', fa: 'persian',
  lv: 'latvian', bn: 'bengali', sr: 'serbian', az: 'azerbaijani', sl: 'slovenian', kn: 'kannada',
  et: 'estonian', mk: 'macedonian', br: 'breton', eu: 'basque', is: 'icelandic', hy: 'armenian',
  ne: 'nepali', mn: 'mongolian', bs: 'bosnian', kk: 'kazakh', sq: 'albanian', sw: 'swahili', gl: 'galician',
  mr: 'marathi', pa: 'punjabi', si: 'sinhala', km: 'khmer', sn: 'shona', yo: 'yoruba', so: 'somali',
  af: 'afrikaans', oc: 'occitan', ka: 'georgian', be: 'belarusian', tg: 'tajik', sd: 'sindhi',
  gu: 'gujarati', am: 'amharic', yi: 'yiddish', lo: 'lao', uz: 'uzbek', fo: 'faroese', ht: 'haitian creole',
  ps: 'pashto', tk: 'turkmen', nn: 'nynorsk', mt: 'maltese', sa: 'sanskrit', lb: 'luxembourgish',
  my: 'myanmar', bo: 'tibetan', tl: 'tagalog', mg: 'malagasy', as: 'assamese', tt: 'tatar', haw: 'hawaiian',
  ln: 'lingala', ha: 'hausa', ba: 'bashkir', jw: 'javanese', su: 'sundanese', yue: 'cantonese',
};

/** The lowercase English name of a language code, or the code itself when unknown. */
export function languageName(code: string | null): string | null {
  if (!code) return null;
  return WHISPER_LANGUAGES[code] ?? code;
}

/**
 * Whisper's own aliases of language names (openai/whisper tokenizer.py TO_LANGUAGE_CODE, beyond LANGUAGES' names):
 * its tokenizer and `--language` accept these, lowercased.
 */
export const WHISPER_LANGUAGE_ALIASES: Record<string, string> = {
  burmese: 'my', valencian: 'ca', flemish: 'nl', haitian: 'ht', letzeburgesch: 'lb', pushto: 'ps', panjabi: 'pa',
  moldavian: 'ro', moldovan: 'ro', sinhalese: 'si', castilian: 'es', mandarin: 'zh',
};

/**
 * ISO 639-1 codes for a language Whisper has under another code. Whisper's LANGUAGES keys are ISO 639-1 except
 * `jw` (Javanese is `jv` in ISO 639-1; `jw` was never assigned). ISO 639-1 also withdrew `iw` → `he`, `in` → `id`,
 * `ji` → `yi` (1989) and `mo` → `ro` (2008), still sent by older systems (Java's Locale, Android); and `nb`
 * (Norwegian Bokmål) is written Norwegian as Whisper's `no` reads it (`nn`, Nynorsk, has its own token).
 */
export const ISO_639_1_TO_WHISPER: Record<string, string> = { jv: 'jw', iw: 'he', in: 'id', ji: 'yi', mo: 'ro', nb: 'no' };

/** Every spelling {@link whisperLanguageCode} accepts: Whisper's codes, the ISO 639-1 ones above, Whisper's names and aliases. */
export const ACCEPTED_LANGUAGES: readonly string[] = [
  ...Object.keys(WHISPER_LANGUAGES),
  ...Object.keys(ISO_639_1_TO_WHISPER),
  ...Object.values(WHISPER_LANGUAGES),
  ...Object.keys(WHISPER_LANGUAGE_ALIASES),
];

/**
 * Whisper's language token for a request's `language`: a Whisper code as is, an ISO 639-1 code Whisper spells
 * otherwise (`jv` → `jw`, `iw` → `he`; ISO_639_1_TO_WHISPER), or a language name or alias as Whisper's tokenizer
 * takes them (`javanese`, `mandarin`; case-insensitive like openai/whisper get_tokenizer's `language.lower()`).
 * @returns the code (a key of WHISPER_LANGUAGES), or null when Whisper has no such language
 */
export function whisperLanguageCode(input: string): string | null {
  const s = input.trim().toLowerCase();
  if (s in WHISPER_LANGUAGES) return s;
  if (s in ISO_639_1_TO_WHISPER) return ISO_639_1_TO_WHISPER[s]!;
  const byName = Object.entries(WHISPER_LANGUAGES).find(([, name]) => name === s);
  if (byName) return byName[0];
  return WHISPER_LANGUAGE_ALIASES[s] ?? null;
}

/** The ISO 639-1 code of a Whisper language code (`jw` → `jv`; every other code is its own), for fields OpenAI documents as ISO 639-1. */
export function isoLanguageCode(whisper: string): string {
  return whisper === 'jw' ? 'jv' : whisper;
}
