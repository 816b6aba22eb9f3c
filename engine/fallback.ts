/**
 * Whisper's quality guards for one decoded 30 s window, as openai/whisper `transcribe.py`
 * (`decode_with_fallback` and the no-speech skip) applies them, with two measured departures: silence
 * is judged on the window's likeliest attempt (isNoSpeechWindow) and the compression ratio per
 * timestamped segment (engine/transcriber.ts compressionRatioOf). Pure and browser-safe; the caller
 * supplies the deflate (zlib) length, because Node's zlib and the browser's CompressionStream differ.
 */

/**
 * Temperatures tried in order: greedy first, then sampling (transcribe.py
 * `temperature=(0.0, 0.2, 0.4, 0.6, 0.8, 1.0)`).
 */
export const TEMPERATURES: readonly number[] = [0, 0.2, 0.4, 0.6, 0.8, 1.0];

/**
 * A window whose text compresses better than this is too repetitive (a decoding loop): transcribe.py
 * `compression_ratio_threshold=2.4`, ratio = len(utf-8 bytes) / len(zlib.compress(bytes)).
 */
export const COMPRESSION_RATIO_THRESHOLD = 2.4;

/** A window whose average log-probability is below this failed (transcribe.py `logprob_threshold=-1.0`). */
export const LOGPROB_THRESHOLD = -1.0;

/**
 * A window whose no-speech probability is above this, and whose average log-probability is below
 * LOGPROB_THRESHOLD, is silence (transcribe.py `no_speech_threshold=0.6`).
 */
export const NO_SPEECH_THRESHOLD = 0.6;

/** The figures of one decoding attempt the guards look at. */
export interface AttemptQuality {
  /** sum of the sampled tokens' log-probabilities / (tokens + 1) (decoding.py) */
  avgLogprob: number;
  /** probability of the no-speech token at the `<|startoftranscript|>` position */
  noSpeechProb: number;
  /** utf-8 length of the text / its zlib-compressed length */
  compressionRatio: number;
}

/**
 * transcribe.py `compression_ratio`: utf-8 bytes of the text over their zlib-compressed length.
 * Empty text gives 0 (nothing repeats).
 * @param deflatedLength length in bytes of the zlib (RFC 1950) stream of the given bytes at the default
 *   level, e.g. `(b) => zlib.deflateSync(b).length` in Node
 */
export async function compressionRatio(
  text: string,
  deflatedLength: (bytes: Uint8Array) => number | Promise<number>,
): Promise<number> {
  const bytes = new TextEncoder().encode(text);
  if (bytes.length === 0) return 0;
  return bytes.length / (await deflatedLength(bytes));
}

/**
 * transcribe.py `decode_with_fallback`: decode again at the next temperature when the text is too
 * repetitive or too unlikely, unless the window looks like silence (then the no-speech rule skips it
 * and sampling would only invent words). Silence is judged over this attempt and the `earlier` ones of
 * the same window (isNoSpeechWindow), not on this attempt alone as Whisper does.
 * @param earlier the window's previous attempts, in order ([] for the first)
 */
export function needsFallback(q: AttemptQuality, earlier: readonly AttemptQuality[] = []): boolean {
  const tooRepetitive = q.compressionRatio > COMPRESSION_RATIO_THRESHOLD;
  const tooUnlikely = q.avgLogprob < LOGPROB_THRESHOLD;
  if (isNoSpeechWindow([...earlier, q])) return false;
  return tooRepetitive || tooUnlikely;
}

/**
 * The no-speech rule over every attempt made on one window: no-speech probability above
 * NO_SPEECH_THRESHOLD and NO attempt likely enough (average log-probability ≥ LOGPROB_THRESHOLD).
 * openai/whisper and faster-whisper (1.1.0 transcribe.py 1452–1458 in the loop, 1160–1180 for the skip)
 * test the current attempt alone, so a window whose greedy text was confident (avg_logprob −0.14) but
 * failed the compression guard is dropped as silence once a sampled attempt scores below −1.0: the low
 * log-probability is then the sampling temperature's, not the audio's. The no-speech probability is the
 * same for every attempt (read at `<|startoftranscript|>`, before any sampled token), so the question
 * "is there text the model reads with confidence?" is answered by the likeliest attempt. Measured on
 * the long-form set (bench/eval-wer.ts, "a phrase repeated, no pauses", tiny.en): 2 of 3 VAD chunks of
 * clear speech were dropped this way (no-speech 0.91 and 0.82, greedy avg_logprob −0.59 and −0.14).
 * @param attempts the window's attempts so far, in order (non-empty)
 */
export function isNoSpeechWindow(attempts: readonly Pick<AttemptQuality, 'avgLogprob' | 'noSpeechProb'>[]): boolean {
  const likeliest = Math.max(...attempts.map((a) => a.avgLogprob));
  return isNoSpeech({ noSpeechProb: attempts[attempts.length - 1].noSpeechProb, avgLogprob: likeliest });
}

/**
 * transcribe.py's skip rule on the final attempt: no-speech probability above NO_SPEECH_THRESHOLD,
 * unless the text is likely enough (average log-probability above LOGPROB_THRESHOLD) to keep anyway.
 */
export function isNoSpeech(q: Pick<AttemptQuality, 'avgLogprob' | 'noSpeechProb'>): boolean {
  return q.noSpeechProb > NO_SPEECH_THRESHOLD && q.avgLogprob < LOGPROB_THRESHOLD;
}

/**
 * The temperatures tried for a request's `temperature`: 0 (or none) gives Whisper's list (greedy, then
 * 0.2 … 1.0); t > 0 starts sampling at t and falls back upward in steps of 0.2 up to 1.0, as
 * openai/whisper's command line builds it (transcribe.py `cli`: `np.arange(temperature, 1.0 + 1e-6,
 * temperature_increment_on_fallback)`, increment 0.2) and OpenAI's API describes it.
 * @param start the request's temperature, 0…1
 */
export function temperaturesFrom(start: number | null | undefined): number[] {
  if (!start || start <= 0) return [...TEMPERATURES];
  const out: number[] = [];
  for (let k = 0; start + 0.2 * k <= 1.0 + 1e-6; k++) out.push(Math.round((start + 0.2 * k) * 1e6) / 1e6);
  return out;
}

/**
 * The attempt kept when every temperature failed the guards: faster-whisper `generate_with_fallback`
 * (transcribe.py) takes, among the attempts whose compression ratio passed, the one with the highest
 * average log-probability, else the highest of all. So a sampled attempt replaces the greedy one only
 * when it is better on Whisper's own criteria (openai/whisper's loop would keep the last, 1.0, attempt
 * whatever it is: sampled garbage over a good greedy text).
 * In faster-whisper 1.1.0 transcribe.py: a result whose ratio is ≤ compression_ratio_threshold joins
 * `below_cr_threshold_results` (lines 1426–1437), needs_fallback is a ratio over 2.4 or avg_logprob below
 * -1.0 (1426–1450), unless no_speech_prob > 0.6 with avg_logprob below -1.0 (silence, 1452–1458), and
 * when every temperature failed `max(below_cr_threshold_results or all_results, key=avg_logprob)`
 * (1462–1466). Its `BatchedInferencePipeline` has no fallback at all: `generate_segment_batched`
 * decodes each VAD segment once at `temperatures[0]` (lines 175–250), so on audio that legitimately
 * repeats a phrase (greedy's ratio over 2.4) it keeps the greedy text where this rule — like
 * faster-whisper's sequential `transcribe` — keeps a shorter sample that compresses normally.
 * @returns the index into `attempts` (non-empty)
 */
export function bestAttempt(attempts: readonly AttemptQuality[]): number {
  const passing = attempts.map((a, i) => ({ a, i })).filter(({ a }) => a.compressionRatio <= COMPRESSION_RATIO_THRESHOLD);
  const pool = passing.length > 0 ? passing : attempts.map((a, i) => ({ a, i }));
  let best = pool[0];
  for (const p of pool) if (p.a.avgLogprob > best.a.avgLogprob) best = p;
  return best.i;
}
