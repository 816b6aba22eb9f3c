/**
 * Model routing by spoken language (issue #6 "Model routing"): inside a model tier, English
 * audio may use an English-only model (smaller and more accurate on English for its size) and other
 * languages need a multilingual one. When the caller names neither a language nor a model, a
 * `detectLanguage` step on the first window, with a multilingual model, decides before transcription.
 * Pure; the registry is config/models.json.
 */
import { MODEL_REGISTRY, type ModelRequest } from './routing';
import type { ModelTier } from './constants';
import { compressionRatio, COMPRESSION_RATIO_THRESHOLD, needsFallback, type AttemptQuality } from '../engine/fallback';

/** What the workflow needs to route by the detected language: model ids only (deterministic). */
export interface LanguageRouting {
  /** multilingual model that detects the language on the first window */
  detectModel: string;
  /** the model for English audio (the tier's English-only choice) */
  englishModel: string;
  /** the model for any other language */
  otherModel: string;
}

/**
 * Whether a job needs the detection step, and its models: only when the caller gave no `language` and
 * no `model`, the task is transcription, the routed model is English-only, and the same model tier has
 * an installed multilingual model. Otherwise null: the routed model serves the job as it is (a
 * multilingual model detects the language itself on its first window).
 * @param routed the model chooseModel picked for the request, and its model tier
 */
export function languageRoutingFor(
  req: ModelRequest,
  routed: { model: string; modelTier: ModelTier },
  installed: readonly string[],
): LanguageRouting | null {
  if (req.model || req.language || req.task === 'translate') return null;
  if (MODEL_REGISTRY.models[routed.model]?.multilingual !== false) return null;
  const other = MODEL_REGISTRY.tiers[routed.modelTier].find((m) => installed.includes(m) && MODEL_REGISTRY.models[m]?.multilingual);
  if (!other) return null;
  return { detectModel: other, englishModel: routed.model, otherModel: other };
}

/** The model for a detected language (ISO 639-1). */
export function modelForLanguage(routing: LanguageRouting, language: string): string {
  return language === 'en' ? routing.englishModel : routing.otherModel;
}

/**
 * Below this speech-weighted mean of the segments' average log-probability, an English-only model's
 * text is doubted even when every window passed Whisper's guards: a margin over LOGPROB_THRESHOLD
 * (-1.0). Measured (`npx tsx bench/routing-signals.ts`, whisper-tiny.en int8, greedy, 2026-12-06): the
 * English windows at -0.23 … -0.37 (espeak-ng en/en-us/en-gb at 120–175 wpm, jfk) and -0.88 (a noisy
 * 5 s real recording, which then pays one detection); a non-English window that passes the guards
 * would have to read above this too.
 */
export const ENGLISH_DOUBT_MEAN_LOGPROB = -0.6;

/**
 * A segment whose text takes at least this many tokens per word is unlike English text: Whisper's BPE spells common
 * English words as one token each (with punctuation 1.00–1.20 tokens per word on every English segment measured:
 * espeak-ng en/en-us/en-gb at 120–175 wpm, jfk, both channels of the diarization clip), while whisper-tiny.en
 * writing over German speech spells made-up words in pieces ("The Midlio take, like Tamontak, vegan, this phyotax,
 * the schlossen." 2.40; "Bitter-Nink-Kar-And-Slift House to …" 4.71). Measured with `npx tsx bench/mixed-signals.ts`
 * (whisper-tiny.en int8, greedy, 29 s windows, 2026-12-07): of the 25 segments of ≥ 5 words written over German,
 * 12 reach 1.5; the rest (1.06–1.47) read as plain English words ("We turn in the garden and list house to the
 * garden.") and are left to the log-probability and compression rules.
 */
export const ENGLISH_DOUBT_TOKENS_PER_WORD = 1.5;
/** segments with fewer words are not judged by tokens per word (a number or a name alone takes several tokens) */
export const ENGLISH_DOUBT_MIN_WORDS = 5;

/** Tokens per word of a segment's text (`tokens`: its text token ids), or null when it has too few words to judge. */
export function tokensPerWord(segment: { text: string; tokens: readonly number[] }): number | null {
  const words = segment.text.split(/\s+/).filter(Boolean).length;
  return words >= ENGLISH_DOUBT_MIN_WORDS ? segment.tokens.length / words : null;
}

/**
 * openai/whisper's own compression-ratio rule over each decoding window's whole text (transcribe.py
 * `decode_with_fallback` compresses the window's decoded text), for englishTextDoubted. The engine's guard measures
 * the ratio per timestamped segment (engine/transcriber.ts compressionRatioOf: a sentence said again is not a loop),
 * which misses a loop that closes every few words: whisper-tiny.en over the 11.4 s German tail of the languages
 * test (test/integration/languages.test.ts) writes "house in the", "the house in", … as a dozen timestamped
 * segments, each compressing at ≤ 1.04, with a window log-probability of -0.44 in one run and -0.66 in another on
 * the same sentences (just above and just under ENGLISH_DOUBT_MEAN_LOGPROB): a CI run kept that text as English.
 * Over the whole window it compresses 8.20. `npx tsx bench/mixed-signals.ts` (2026-12-07): English windows
 * 0.82–1.75, windows holding English and German 1.56–1.81, far under 2.4; German windows 3.40 and 8.20.
 * @param segments the greedy pass's segments; `windowStart` groups them by window (absent: one window)
 * @param deflatedLength the zlib length of bytes (engine/fallback.ts compressionRatio)
 * @returns one ratio per window, in the order the windows first appear
 */
export async function windowCompressionRatios(
  segments: readonly { text: string; windowStart?: number }[],
  deflatedLength: (bytes: Uint8Array) => number | Promise<number>,
): Promise<number[]> {
  const texts = new Map<number, string[]>();
  for (const s of segments) {
    const w = s.windowStart ?? 0;
    if (!texts.has(w)) texts.set(w, []);
    texts.get(w)!.push(s.text.trim());
  }
  return Promise.all([...texts.values()].map((t) => compressionRatio(t.join(' '), deflatedLength)));
}

/**
 * Whether an English-only model's greedy transcript of a window of speech may be another language, so
 * the multilingual model must detect it before the text is kept (economy routing after its first
 * windows; activities/inference.ts). Doubted when: no segment came back from speech; any window failed
 * Whisper's own guards at temperature 0 (engine/fallback.ts needsFallback: average log-probability
 * below -1.0 or compression ratio above 2.4, openai/whisper transcribe.py `decode_with_fallback`); the
 * speech-weighted mean average log-probability is below ENGLISH_DOUBT_MEAN_LOGPROB; or (where segments carry their
 * text and tokens) any segment's text is unlike English, ENGLISH_DOUBT_TOKENS_PER_WORD; or (where given) a window's whole
 * text compresses above Whisper's COMPRESSION_RATIO_THRESHOLD (windowCompressionRatios).
 * Measured on 29 s windows (bench/routing-signals.ts): every German, French, Spanish and Dutch espeak-ng window
 * (6 of 6) is doubted (each failed a guard: tiny.en loops or stumbles on them), no English one (0 of 6). A window that
 * holds both languages (bench/mixed-signals.ts: English then German at 22/7, 20/9, 15/14, 10/19 s, with and without a
 * pause between, and German then English at 10/19 and 5/24 s) is doubted in 7 of 7; the mean log-probability alone
 * missed German 5 s then English 24 s (-0.503: the window's own figures are mostly English), whose first segment
 * takes 2.40 tokens per word. The whole window's text compression ratio (openai transcribe.py compresses the
 * window's text) told nothing there: 1.58–1.91 on mixed windows against 1.35–1.77 on English ones.
 * @param segments the greedy pass's segments (each carries its decoding window's figures; `text` and `tokens` where known)
 * @param windowRatios windowCompressionRatios of the same segments, where known
 */
export function englishTextDoubted(
  segments: readonly (AttemptQuality & { start: number; end: number; text?: string; tokens?: readonly number[] })[],
  windowRatios: readonly number[] = [],
): boolean {
  if (segments.length === 0) return true;
  if (segments.some((s) => needsFallback(s))) return true;
  if (windowRatios.some((r) => r > COMPRESSION_RATIO_THRESHOLD)) return true;
  if (segments.some((s) => s.text !== undefined && s.tokens !== undefined && (tokensPerWord({ text: s.text, tokens: s.tokens }) ?? 0) >= ENGLISH_DOUBT_TOKENS_PER_WORD)) return true;
  let weight = 0;
  let sum = 0;
  for (const s of segments) {
    const w = Math.max(0.01, s.end - s.start);
    weight += w;
    sum += w * s.avgLogprob;
  }
  return sum / weight < ENGLISH_DOUBT_MEAN_LOGPROB;
}
