/**
 * Whisper decoding rules that act on one row of logits, and the mapping of sampled tokens to
 * segments. Pure and browser-safe, so the server engine and the in-browser engine share it.
 *
 * Sources: openai/whisper `decoding.py` (SuppressBlank, SuppressTokens, ApplyTimestampRules,
 * no-speech probability) and `transcribe.py` (segments from consecutive timestamp tokens, seeking);
 * HF transformers `WhisperTimeStampLogitsProcessor` is the same algorithm.
 */
import { TIME_PER_TIMESTAMP_S } from './constants';
import type { WhisperVocab } from './vocab';

const NEG_INF = -Infinity;
// Bound once: a global lookup per call is slow in hot loops (and very slow in Jest's VM realm).
const exp = Math.exp;
const log = Math.log;

/** Sets the given token ids to -inf in a logits row of length vocab. */
export function suppressTokens(logits: Float32Array, ids: readonly number[]): void {
  for (const id of ids) if (id < logits.length) logits[id] = NEG_INF;
}

/** log-softmax of one logits row, written into `out` (length vocab). */
export function logSoftmax(logits: Float32Array, out: Float32Array): void {
  let max = NEG_INF;
  for (let i = 0; i < logits.length; i++) if (logits[i] > max) max = logits[i];
  let sum = 0;
  for (let i = 0; i < logits.length; i++) sum += Math.exp(logits[i] - max);
  const lse = max + Math.log(sum);
  for (let i = 0; i < logits.length; i++) out[i] = logits[i] - lse;
}

/** Index of the largest value (greedy sampling at temperature 0). */
export function argmax(row: Float32Array): number {
  let best = 0;
  let bestVal = NEG_INF;
  for (let i = 0; i < row.length; i++) {
    if (row[i] > bestVal) {
      bestVal = row[i];
      best = i;
    }
  }
  return best;
}

/**
 * Applies every per-step rule to one row of logits in place, before sampling:
 * suppress_tokens always; begin_suppress_tokens (blank, EOT) and "must start with a timestamp,
 * at most max_initial_timestamp" on the first sampled token; timestamps come in pairs and never go
 * backwards; and if the timestamps' total probability beats every text token, force a timestamp.
 *
 * @param logits  one row, length vocab; modified in place
 * @param sampled the tokens sampled so far in this window (prompt excluded)
 */
export function applyDecodingRules(logits: Float32Array, sampled: readonly number[], vocab: WhisperVocab): void {
  applySuppressionRules(logits, sampled, vocab);
  const tb = vocab.timestampBegin;
  const tsLogSumExp = timestampLogSumExp(logits, tb);
  if (tsLogSumExp === null) return;
  // "tsLogSumExp > max(text logits)" is "no text logit ≥ tsLogSumExp": the scan of the ~50k text logits
  // stops at the first one that reaches it (usually long before the end), with the same outcome.
  let textReaches = false;
  for (let i = 0; i < tb; i++) {
    if (logits[i] >= tsLogSumExp) {
      textReaches = true;
      break;
    }
  }
  if (!textReaches) for (let i = 0; i < tb; i++) logits[i] = NEG_INF;
}

/**
 * The rules of {@link applyDecodingRules} that depend only on the tokens sampled so far (every rule but the
 * timestamp forcing): they set entries to -inf and leave the others as they are.
 * @param target one row of logits, length vocab; modified in place
 * @param sampled the tokens sampled so far in this window (prompt excluded)
 */
export function applySuppressionRules(target: Float32Array, sampled: readonly number[], vocab: WhisperVocab): void {
  suppressTokens(target, vocab.suppressTokens);
  target[vocab.noTimestamps] = NEG_INF;
  suppressBySampled(target, sampled, vocab);
}

/**
 * The part of {@link suppressionMask} that never changes: 0, and -inf at `suppress_tokens` and <|notimestamps|>.
 * @param n the row length (the model's vocab_size)
 * @returns float32 [n]
 */
export function suppressionMaskBase(vocab: WhisperVocab, n: number): Float32Array {
  const base = new Float32Array(n);
  suppressTokens(base, vocab.suppressTokens);
  if (vocab.noTimestamps < n) base[vocab.noTimestamps] = NEG_INF;
  return base;
}

/**
 * The state of the rules of {@link applySuppressionRules} after `sampled`: two histories with the same key get the
 * same mask, so a decode loop rewrites a row's mask only when its key changes (at a timestamp and the token after).
 * -1 on the first step; else 3 × the timestamp floor (0 when no timestamp was sampled) + 0 (no pair rule),
 * 1 (a pair just closed: no timestamp next) or 2 (an open timestamp: no text next).
 */
export function suppressionKey(sampled: readonly number[], vocab: WhisperVocab): number {
  if (sampled.length === 0) return -1;
  const tb = vocab.timestampBegin;
  const lastWasTs = sampled[sampled.length - 1] >= tb;
  const penultimateWasTs = sampled.length < 2 || sampled[sampled.length - 2] >= tb;
  let lastTs = -1;
  for (let i = sampled.length - 1; i >= 0; i--) {
    if (sampled[i] >= tb) {
      lastTs = sampled[i];
      break;
    }
  }
  const floor = lastTs < 0 ? 0 : lastWasTs && !penultimateWasTs ? lastTs : lastTs + 1;
  return 3 * floor + (lastWasTs ? (penultimateWasTs ? 1 : 2) : 0);
}

/**
 * The rules of {@link applySuppressionRules} as an additive mask: writes 0 / -inf into `mask` so that
 * `logits[i] + mask[i]` is `applySuppressionRules`'s result for every finite logit (x + 0 = x, x + -inf = -inf).
 * The decoder's step graph (step-graph.ts) adds it in-graph.
 * @param mask    one row, length vocab; overwritten
 * @param sampled the tokens sampled so far in this window (prompt excluded)
 * @param base    {@link suppressionMaskBase} of the same vocab and length
 */
export function suppressionMask(mask: Float32Array, sampled: readonly number[], vocab: WhisperVocab, base: Float32Array): void {
  mask.set(base);
  suppressBySampled(mask, sampled, vocab);
}

/**
 * The rules that depend on the tokens sampled so far (the state {@link suppressionKey} names), written as -inf into
 * `row`; entries they do not touch keep their values. One piece for {@link applySuppressionRules} (a logits row) and
 * {@link suppressionMask} (a mask from its base).
 * @param row one row, length vocab; modified in place
 * @param sampled the tokens sampled so far in this window (prompt excluded)
 */
function suppressBySampled(row: Float32Array, sampled: readonly number[], vocab: WhisperVocab): void {
  const tb = vocab.timestampBegin;
  const n = row.length;
  const key = suppressionKey(sampled, vocab);
  if (key === -1) {
    suppressTokens(row, vocab.beginSuppressTokens);
    // The first token must be a timestamp no later than max_initial_timestamp (1.0 s by default).
    row.fill(NEG_INF, 0, Math.min(tb, n));
    row.fill(NEG_INF, Math.min(tb + vocab.maxInitialTimestampIndex + 1, n), n);
    return;
  }
  const pair = key % 3;
  const floor = (key - pair) / 3;
  if (pair === 1) row.fill(NEG_INF, Math.min(tb, n), n); // a pair just closed: text (or EOT) next
  else if (pair === 2) row.fill(NEG_INF, 0, Math.min(vocab.eot, n)); // an open timestamp must be followed by one
  // Timestamps never decrease; after a closed pair they must strictly increase.
  if (floor > tb) row.fill(NEG_INF, tb, Math.min(floor, n));
}

/**
 * The timestamp rule's log-sum-exp: log Σ exp over the row's timestamp logits (ids ≥ `from`), in float64,
 * one exp per timestamp in id order (the forcing rule compares it with the text logits: both sides share
 * softmax's normaliser, so no pass of exp over the whole vocabulary is needed).
 * @param row logits after the suppression rules; the timestamp entries are read from index `from` on
 * @param from the first timestamp's index in `row` (timestampBegin for a whole row, 0 for a timestamp slice)
 * @returns null when every timestamp is -inf (then nothing is forced)
 */
export function timestampLogSumExp(row: Float32Array, from: number): number | null {
  const n = row.length;
  let tsMax = NEG_INF;
  for (let i = from; i < n; i++) if (row[i] > tsMax) tsMax = row[i];
  if (!(tsMax > NEG_INF)) return null;
  let s = 0;
  for (let i = from; i < n; i++) s += exp(row[i] - tsMax);
  return tsMax + log(s);
}

/**
 * Greedy choice from one processed logits row: the argmax and its log-probability
 * (logit − logsumexp), in two passes and one exp per token.
 */
export function greedyPick(logits: Float32Array): { token: number; logprob: number } {
  let best = 0;
  let max = NEG_INF;
  for (let i = 0; i < logits.length; i++) {
    if (logits[i] > max) {
      max = logits[i];
      best = i;
    }
  }
  let sum = 0;
  for (let i = 0; i < logits.length; i++) sum += exp(logits[i] - max);
  return { token: best, logprob: -log(sum) };
}

/**
 * Sampling at `temperature` > 0 from one processed logits row, as openai/whisper decoding.py
 * `Categorical(logits=logits / temperature).sample()`, by inverse CDF with one uniform draw `u` in [0, 1).
 * The log-probability is of the untempered distribution (decoding.py scores with `log_softmax(logits)`),
 * so avg_logprob means the same at every temperature.
 */
export function samplePick(logits: Float32Array, temperature: number, u: number): { token: number; logprob: number } {
  let max = NEG_INF;
  for (let i = 0; i < logits.length; i++) if (logits[i] > max) max = logits[i];
  const inv = 1 / temperature;
  let tempered = 0;
  let plain = 0;
  for (let i = 0; i < logits.length; i++) {
    const d = logits[i] - max;
    tempered += exp(d * inv);
    plain += exp(d);
  }
  const target = u * tempered;
  let acc = 0;
  let token = -1;
  for (let i = 0; i < logits.length; i++) {
    if (logits[i] === NEG_INF) continue;
    token = i;
    acc += exp((logits[i] - max) * inv);
    if (acc > target) break;
  }
  return { token, logprob: logits[token] - max - log(plain) };
}

/**
 * openai/whisper transcribe.py's `single_timestamp_ending`: the output's last two tokens are text then a timestamp
 * (`timestamp_tokens[-2:].tolist() == [False, True]`), a segment closed with no next one opened.
 * @param tokens a window's sampled ids, prompt and EOT excluded
 */
export function endsOnSingleTimestamp(tokens: readonly number[], vocab: Pick<WhisperVocab, 'timestampBegin'>): boolean {
  const n = tokens.length;
  return n >= 2 && tokens[n - 2] < vocab.timestampBegin && tokens[n - 1] >= vocab.timestampBegin;
}

/** A segment inside one window, times in seconds relative to the window start. */
export interface WindowSegment {
  start: number;
  end: number;
  /** Text token ids (timestamps and specials removed). */
  tokens: number[];
}

/**
 * Splits one window's sampled tokens (EOT excluded) into segments at consecutive timestamp pairs,
 * as openai/whisper transcribe.py does, and says how far the window was consumed.
 *
 * @param tokens         sampled ids, prompt and EOT excluded
 * @param windowSeconds  how much audio the window held (≤ 30 s)
 * @returns segments (window-relative seconds) and `consumedSeconds`: the whole window when the
 *   output ended on a single timestamp or had no pair, else the last timestamp, where the next
 *   window should start (Whisper's seek).
 */
export function segmentsFromTokens(
  tokens: readonly number[],
  vocab: WhisperVocab,
  windowSeconds: number,
): { segments: WindowSegment[]; consumedSeconds: number } {
  const tb = vocab.timestampBegin;
  const isTs = (i: number) => tokens[i] >= tb;
  const time = (id: number) => Math.min((id - tb) * TIME_PER_TIMESTAMP_S, windowSeconds);
  const textOf = (slice: readonly number[]) => slice.filter((t) => t < vocab.eot);
  const n = tokens.length;
  const singleTimestampEnding = endsOnSingleTimestamp(tokens, vocab);
  const consecutive: number[] = [];
  for (let i = 1; i < n; i++) if (isTs(i) && isTs(i - 1)) consecutive.push(i);

  const segments: WindowSegment[] = [];
  if (consecutive.length > 0) {
    const slices = singleTimestampEnding ? [...consecutive, n] : consecutive;
    let lastSlice = 0;
    for (const cur of slices) {
      const sliced = tokens.slice(lastSlice, cur);
      const text = textOf(sliced);
      if (text.length > 0 && sliced.length > 0) {
        segments.push({ start: time(sliced[0]), end: time(sliced[sliced.length - 1]), tokens: text });
      }
      lastSlice = cur;
    }
    const consumedSeconds = singleTimestampEnding ? windowSeconds : time(tokens[lastSlice - 1]);
    return { segments, consumedSeconds };
  }
  // No closed pair: one segment up to the last timestamp (or the window's end).
  let end = windowSeconds;
  let start = 0;
  const stamps = tokens.filter((t) => t >= tb);
  if (stamps.length > 0) {
    start = time(stamps[0]);
    if (stamps[stamps.length - 1] !== tb && stamps.length > 1) end = time(stamps[stamps.length - 1]);
  }
  const text = textOf(tokens);
  if (text.length > 0) segments.push({ start, end: Math.max(end, start), tokens: text });
  return { segments, consumedSeconds: windowSeconds };
}
