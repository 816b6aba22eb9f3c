/**
 * The `language` of the OpenAI routes' `verbose_json` (issue #17): always a string, as the official `openai` client
 * types it (openai-node `TranscriptionVerbose.language: string`, "The language of the input audio";
 * `TranslationVerbose.language: string`, "The language of the output translation (always `english`)"), in OpenAI's
 * lowercase English names (common/languages.ts). Pure; unit-tested.
 *
 * Why a rule and not the job's `language`: a job with no speech at all (an all-silent file) sends no window to the
 * model (VAD gate, audio/speech-spans.ts), so nothing is detected and the job JSON keeps `language: null` (our own
 * API says "not detected" honestly there). The OpenAI shape has no null, so this module picks the language the
 * transcript is in by the reference implementations' own defaults, and `languages` (OpenAI's `Transcription.languages`,
 * "An empty array indicates that no language could be reliably detected") says whether it was heard.
 */
import { isoLanguageCode, languageName } from '../common/languages';

/** What the response's language is decided from. */
export interface VerboseLanguageInput {
  task: 'transcribe' | 'translate';
  /** the request's `language` (ISO 639-1), if given */
  requested?: string | null;
  /** the job's language: given, or the language with the most speech, detected window by window; null = none heard */
  jobLanguage: string | null;
  /** the job's seconds of speech per language (job JSON `languages`), most first; null/empty = no speech */
  languages?: readonly { language: string; seconds: number }[] | null;
}

/**
 * The language the transcript is in, as an ISO 639-1 code, in this order:
 * 1. `translate`: "en", the output language (openai-node TranslationVerbose: "always `english`"; openai/whisper
 *    tokenizer.py: the translate task decodes English);
 * 2. the requested language: the transcript was decoded in it (openai/whisper transcribe.py and faster-whisper 1.1.0
 *    transcribe.py use a given `language` without detecting);
 * 3. the job's language (the one with the most speech; workflows/languages.ts);
 * 4. otherwise (no speech heard, so nothing was detected): "en". On an English-only model that is its language
 *    (openai/whisper transcribe.py `if not model.is_multilingual: decode_options["language"] = "en"`; faster-whisper
 *    1.1.0 transcribe.py the same, with probability 1); on a multilingual model it is the language openai/whisper decodes in when none is
 *    set (tokenizer.py get_tokenizer: `language = language or "en"` for a multilingual tokenizer). Not a
 *    detection: running detection on silence names a random language (bench/language-detect.ts measures noise and
 *    tones read as nn/cy/…), which would look like a finding; `languages: []` says that nothing was detected.
 */
export function verboseLanguageCode(input: VerboseLanguageInput): string {
  if (input.task === 'translate') return 'en';
  if (input.requested) return input.requested;
  if (input.jobLanguage) return input.jobLanguage;
  return 'en';
}

/**
 * verbose_json's `language` (a lowercase English name such as "english") and, for transcriptions, `languages`: OpenAI's
 * own `Transcription.languages` shape (`[{code}]`, ISO 639-1), the languages heard, most speech first, and `[]` when
 * none was ("An empty array indicates that no language could be reliably detected", openai-node transcriptions.d.ts).
 * Translations have no `languages` (OpenAI's TranslationVerbose has none; its `language` is the output's).
 */
export function verboseLanguageFields(input: VerboseLanguageInput): { language: string; languages?: { code: string }[] } {
  const language = languageName(verboseLanguageCode(input))!;
  if (input.task === 'translate') return { language };
  // OpenAI documents these codes as ISO 639-1: Whisper's `jw` is reported as `jv` (common/languages.ts isoLanguageCode).
  return { language, languages: (input.languages ?? []).filter((l) => l.seconds > 0).map((l) => ({ code: isoLanguageCode(l.language) })) };
}
