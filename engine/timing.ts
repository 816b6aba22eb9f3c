/**
 * Word-level timestamps from the decoder's cross-attention, ported from openai/whisper
 * `whisper/timing.py` (median_filter, dtw_cpu, backtrace, find_alignment, merge_punctuations,
 * add_word_timestamps) and `whisper/tokenizer.py` (split_to_word_tokens). faster-whisper's
 * `transcribe.py` (find_alignment, add_word_timestamps) is the same algorithm.
 *
 * Pure and browser-safe: the model run that produces the cross-attention weights lives in model.ts,
 * the glue per window in transcriber.ts. Times are seconds; the weights are the decoder's
 * `cross_attentions.{l}` outputs, which are already softmaxed over all 1500 encoder positions
 * (outputs added to the int8 decoders after each layer's `encoder_attn/Softmax`), so they are
 * renormalised over the window's frames here (openai cuts the pre-softmax QK, then applies softmax:
 * the same numbers).
 */

/** timing.py find_alignment `medfilt_width` default. */
export const MEDFILT_WIDTH = 7;
/** audio.py TOKENS_PER_SECOND: SAMPLE_RATE / (HOP_LENGTH * 2) = 16000 / 320 encoder positions per second. */
export const TOKENS_PER_SECOND = 50;
/** transcribe.py / timing.py add_word_timestamps `prepend_punctuations` default. */
export const PREPEND_PUNCTUATIONS = '"\'“¿([{-';
/** transcribe.py / timing.py add_word_timestamps `append_punctuations` default. */
export const APPEND_PUNCTUATIONS = '"\'.。,，!！?？:：”)]}、';
/** timing.py add_word_timestamps `sentence_end_marks`. */
const SENTENCE_END_MARKS = '.。!！?？';
/** Python's `string.punctuation` (tokenizer.py split_tokens_on_spaces). */
const PY_PUNCTUATION = '!"#$%&\'()*+,-./:;<=>?@[\\]^_`{|}~';
/** tokenizer.py split_to_word_tokens: languages without spaces between words split on unicode points. */
export const NO_SPACE_LANGUAGES: ReadonlySet<string> = new Set(['zh', 'ja', 'th', 'lo', 'my', 'yue']);

/** One word's alignment (timing.py WordTiming): seconds relative to the window start. */
export interface WordTiming {
  word: string;
  tokens: number[];
  start: number;
  end: number;
  probability: number;
}

/** A word as segments carry it (same shape as engine/transcriber.ts `Word`). */
export interface TimedWord {
  word: string;
  start: number;
  end: number;
  probability: number;
}

/** Python's `needle in haystack` for strings (substring test, so `'' in s` is true, as openai relies on). */
function pyIn(needle: string, haystack: string): boolean {
  return haystack.includes(needle);
}

/** Python `str.strip()` for the whitespace Whisper's text carries. */
function pyStrip(s: string): string {
  return s.trim();
}

/** NaN-last ascending order, as torch.sort puts NaN last. */
function lessThan(a: number, b: number): boolean {
  if (Number.isNaN(a)) return false;
  if (Number.isNaN(b)) return true;
  return a < b;
}

/**
 * timing.py `median_filter`: a sliding median of odd `width` along the last axis of a row-major
 * [rows, cols] matrix, reflect-padded by width // 2 (torch F.pad mode="reflect", which does not
 * repeat the edge). When cols ≤ width // 2 the input is returned unchanged, as openai does.
 * @param x     float32 [rows, cols]
 * @returns     a new float32 [rows, cols]
 * @throws Error for an even or non-positive width
 */
export function medianFilter(x: Float32Array, rows: number, cols: number, width = MEDFILT_WIDTH): Float32Array {
  if (width <= 0 || width % 2 !== 1) throw new Error('medianFilter: width must be an odd positive number');
  const pad = width >> 1;
  if (cols <= pad) return x.slice();
  const out = new Float32Array(rows * cols);
  const win = new Float64Array(width);
  const padded = new Float32Array(cols + 2 * pad);
  for (let r = 0; r < rows; r++) {
    const base = r * cols;
    padded.set(x.subarray(base, base + cols), pad);
    reflectPad(padded, cols, pad);
    medianRow(padded, cols, width, out, base, win);
  }
  return out;
}

/**
 * torch F.pad(mode="reflect") of one row in place: `padded` holds the row at [pad, pad + cols) and gets
 * padded[pad − k] = row[k], padded[pad + cols − 1 + k] = row[cols − 1 − k] for k in 1..pad (the edge is not
 * repeated). Needs cols > pad (openai's median_filter returns its input unfiltered otherwise).
 */
function reflectPad(padded: Float32Array, cols: number, pad: number): void {
  const last = pad + cols - 1;
  for (let k = 1; k <= pad; k++) {
    padded[pad - k] = padded[pad + k];
    padded[last + k] = padded[last - k];
  }
}

/**
 * One row of timing.py `median_filter` (`x.unfold(-1, width, 1).sort()[0][..., width // 2]`):
 * out[base + c] = the median of padded[c … c + width − 1] for c in [0, cols), NaN sorted last as torch.sort does.
 * @param padded float32 [cols + 2·(width // 2)], the reflect-padded row
 * @param win    float64 [width] scratch
 */
function medianRow(padded: Float32Array, cols: number, width: number, out: Float32Array, base: number, win: Float64Array): void {
  const len = cols + width - 1;
  let hasNaN = false;
  for (let k = 0; k < len; k++) if (padded[k] !== padded[k]) hasNaN = true;
  if (width === 7 && !hasNaN) {
    // The default width, without NaN: see median7Pairs. The median of a window is one value whatever the method,
    // so the output is the same as the sort below.
    median7Pairs(padded, out, base, cols);
    return;
  }
  const pad = width >> 1;
  for (let c = 0; c < cols; c++) {
    // insertion sort of the window (7 values): cheaper than a general sort
    for (let k = 0; k < width; k++) {
      const v = padded[c + k];
      let m = k - 1;
      while (m >= 0 && lessThan(v, win[m])) {
        win[m + 1] = win[m];
        m--;
      }
      win[m + 1] = v;
    }
    out[base + c] = win[pad];
  }
}

/**
 * timing.py `dtw_cpu` + `backtrace`: dynamic time warping over a cost matrix with the same float32
 * cumulative cost and tie-breaking (diagonal only when strictly smallest, then vertical, else
 * horizontal), so equal inputs give openai's path exactly.
 * @param x row-major [n, m] cost (openai passes −matrix as float64: `dtw_cpu(x.double().cpu().numpy())`)
 * @returns the path as parallel index arrays, from (0, 0) to (n − 1, m − 1)
 */
export function dtw(x: ArrayLike<number>, n: number, m: number): { textIndices: Int32Array; timeIndices: Int32Array } {
  return dtwFloat64(x instanceof Float64Array ? x : Float64Array.from(x), n, m);
}

/**
 * `dtw` on a Float64Array (one element type keeps the loop monomorphic). openai's dtw_cpu fills
 * cost[i, j] = x[i − 1, j − 1] + min-choice over a float32 [n + 1, m + 1] array, columns (j) outer; each cell
 * needs only (i − 1, j − 1), (i − 1, j) and (i, j − 1), so walking rows (i) outer gives the same numbers while
 * reading memory in order, with two float32 rows of cost instead of the whole matrix (only `trace` is kept
 * whole, for the backtrace).
 */
function dtwFloat64(x: Float64Array, n: number, m: number): { textIndices: Int32Array; timeIndices: Int32Array } {
  const W = m + 1;
  // every cell with i ≥ 1 and j ≥ 1 is written below; backtrace sets row 0 to 2 and column 0 to 1
  const trace = new Int8Array((n + 1) * W);
  let prev = new Float32Array(W).fill(Infinity); // cost row i − 1 from column 1 on; row 0 (all inf there)
  let cur = new Float32Array(W);
  for (let i = 1; i <= n; i++) {
    const xo = (i - 1) * m - 1;
    const to = i * W;
    let c0 = i === 1 ? 0 : Infinity; // cost[i − 1, j − 1], here cost[i − 1, 0]: cost[0, 0] = 0, the rest of column 0 inf
    let c2 = Infinity; // cost[i, j − 1]
    for (let j = 1; j <= m; j++) {
      const c1 = prev[j]; // cost[i − 1, j]
      let c: number;
      let t: number;
      if (c0 < c1 && c0 < c2) {
        c = c0;
        t = 0;
      } else if (c1 < c0 && c1 < c2) {
        c = c1;
        t = 1;
      } else {
        c = c2;
        t = 2;
      }
      c2 = Math.fround(x[xo + j] + c); // stored as float32, as numba's float32 array
      cur[j] = c2;
      trace[to + j] = t;
      c0 = c1;
    }
    const swap = prev;
    prev = cur;
    cur = swap;
  }
  // backtrace: trace[0, :] = 2, trace[:, 0] = 1, then walk from (n, m) to (0, 0); the path has at most n + m steps
  for (let j = 0; j <= m; j++) trace[j] = 2;
  for (let i = 0; i <= n; i++) trace[i * W] = 1;
  const ti = new Int32Array(n + m);
  const tj = new Int32Array(n + m);
  let k = n + m;
  let i = n;
  let j = m;
  while (i > 0 || j > 0) {
    k--;
    ti[k] = i - 1;
    tj[k] = j - 1;
    const t = trace[i * W + j];
    if (t === 0) {
      i--;
      j--;
    } else if (t === 1) i--;
    else if (t === 2) j--;
    else throw new Error('dtw: unexpected trace value');
  }
  return { textIndices: ti.slice(k), timeIndices: tj.slice(k) };
}

/**
 * tokenizer.py `split_tokens_on_unicode`: groups tokens into the shortest runs that decode to whole
 * unicode characters (a run whose text has U+FFFD that the full text does not have is continued).
 * Indices are in code points, as Python's str. Trailing tokens that never decode cleanly are dropped,
 * as openai does.
 * @param decode text of ids, special tokens included (openai uses decode_with_timestamps)
 */
export function splitTokensOnUnicode(tokens: readonly number[], decode: (ids: number[]) => string): { words: string[]; wordTokens: number[][] } {
  const replacement = '\ufffd';
  const full = Array.from(decode([...tokens]));
  const words: string[] = [];
  const wordTokens: number[][] = [];
  let current: number[] = [];
  let offset = 0;
  for (const token of tokens) {
    current.push(token);
    const decoded = Array.from(decode(current));
    const k = decoded.indexOf(replacement);
    if (k < 0 || full[offset + k] === replacement) {
      words.push(decoded.join(''));
      wordTokens.push(current);
      current = [];
      offset += decoded.length;
    }
  }
  return { words, wordTokens };
}

/**
 * tokenizer.py `split_tokens_on_spaces`: unicode runs joined into words; a run that is special
 * (id ≥ eot), starts with a space or is punctuation starts a new word.
 */
export function splitTokensOnSpaces(
  tokens: readonly number[],
  decode: (ids: number[]) => string,
  eot: number,
): { words: string[]; wordTokens: number[][] } {
  const sub = splitTokensOnUnicode(tokens, decode);
  const words: string[] = [];
  const wordTokens: number[][] = [];
  sub.words.forEach((subword, k) => {
    const subTokens = sub.wordTokens[k];
    const special = subTokens[0] >= eot;
    const withSpace = subword.startsWith(' ');
    const punctuation = pyIn(pyStrip(subword), PY_PUNCTUATION);
    if (special || withSpace || punctuation || words.length === 0) {
      words.push(subword);
      wordTokens.push([...subTokens]);
    } else {
      words[words.length - 1] += subword;
      wordTokens[wordTokens.length - 1].push(...subTokens);
    }
  });
  return { words, wordTokens };
}

/**
 * tokenizer.py `split_to_word_tokens`: unicode splitting for zh, ja, th, lo, my, yue, space splitting
 * otherwise.
 * @param tokens text tokens followed by EOT (as find_alignment passes them)
 */
export function splitToWordTokens(
  tokens: readonly number[],
  decode: (ids: number[]) => string,
  eot: number,
  language: string,
): { words: string[]; wordTokens: number[][] } {
  if (NO_SPACE_LANGUAGES.has(language)) return splitTokensOnUnicode(tokens, decode);
  return splitTokensOnSpaces(tokens, decode, eot);
}

/** Input of `findAlignment`: one window's cross-attention over [SOT sequence, no_timestamps, text, EOT]. */
export interface AlignmentInput {
  /** one float32 [tokenCount, positions] matrix per alignment head (post-softmax over all positions) */
  heads: Float32Array[];
  /** rows per head: SOT sequence + no_timestamps + text tokens + EOT */
  tokenCount: number;
  /** columns per head: encoder positions (1500) */
  positions: number;
  /** length of the SOT sequence (1 for English-only models, 3 with language and task) */
  sotLength: number;
  /** the window's text tokens (ids < EOT) */
  textTokens: readonly number[];
  /** the model's probability of each text token at its position (softmax over ids < EOT) */
  textTokenProbs: readonly number[];
  /** mel frames of audio in the window (≤ 3000); openai's `num_frames` */
  numFrames: number;
  /** splitToWordTokens(textTokens + [EOT]) */
  words: string[];
  wordTokens: number[][];
  medfiltWidth?: number;
}

/**
 * timing.py `find_alignment` after the model run: the alignment heads' weights cut to the window's
 * encoder positions (numFrames // 2) and renormalised, standardised per head along tokens
 * (std unbiased=False), median-filtered along time, averaged over heads; DTW on its negative over
 * the rows from no_timestamps to the last text token; word starts/ends are the times of the path's
 * jumps at the word boundaries. Probability of a word = mean of its tokens' probabilities.
 * @returns window-relative word timings (EOT excluded); [] for no text
 */
export function findAlignment(input: AlignmentInput): WordTiming[] {
  const { heads, tokenCount: T, positions, sotLength, textTokens, textTokenProbs, words, wordTokens } = input;
  if (textTokens.length === 0) return [];
  // openai: `weights = weights[:, :, : num_frames // 2]`: only the window's encoder positions are ever read
  const n = Math.min(positions, Math.floor(input.numFrames / 2));
  if (n <= 0) return [];
  const width = input.medfiltWidth ?? MEDFILT_WIDTH;
  if (width <= 0 || width % 2 !== 1) throw new Error('medianFilter: width must be an odd positive number');
  const pad = width >> 1;
  // openai: `matrix = weights.mean(axis=0); matrix = matrix[len(tokenizer.sot_sequence) : -1]`: the median filter
  // works along time within a row, so only these rows (no_timestamps and the text tokens) are filtered and summed;
  // the standardisation before it is over all T rows.
  const rows = T - 1 - sotLength;
  const matrix = new Float64Array(rows * n); // Σ over heads of the filtered rows, in head order
  const x = new Float32Array(T * n);
  const mean = new Float64Array(n);
  const std = new Float64Array(n);
  const padded = new Float32Array(n + 2 * pad);
  const filtered = new Float32Array(n);
  const win = new Float64Array(width);
  for (const w of heads) {
    // `(weights * qk_scale).softmax(dim=-1)` over the cut positions: the outputs are softmaxed over all 1500
    // positions, so the cut rows are renormalised (the same numbers); float32 as torch. The column sums of
    // torch.std_mean's mean are taken in the same pass (each column still adds its tokens in order).
    mean.fill(0);
    for (let t = 0; t < T; t++) {
      const wo = t * positions;
      const o = t * n;
      let sum = 0;
      for (let f = 0; f < n; f++) sum += w[wo + f];
      for (let f = 0; f < n; f++) {
        const v = Math.fround(w[wo + f] / sum);
        x[o + f] = v;
        mean[f] += v;
      }
    }
    for (let f = 0; f < n; f++) mean[f] /= T;
    // torch.std_mean(dim=-2, unbiased=False): walked row by row (a column walk strides `n` floats per read)
    std.fill(0);
    for (let t = 0; t < T; t++) {
      const o = t * n;
      for (let f = 0; f < n; f++) {
        const d = x[o + f] - mean[f];
        std[f] += d * d;
      }
    }
    for (let f = 0; f < n; f++) std[f] = Math.sqrt(std[f] / T);
    // `(weights - mean) / std` (float32), then median_filter per row, summed into the heads' mean
    for (let r = 0; r < rows; r++) {
      const o = (r + sotLength) * n;
      const mo = r * n;
      for (let f = 0; f < n; f++) padded[pad + f] = (x[o + f] - mean[f]) / std[f];
      if (n <= pad) {
        // median_filter: "F.pad requires the padding width to be smaller than the input dimension": unfiltered
        for (let f = 0; f < n; f++) matrix[mo + f] += padded[pad + f];
        continue;
      }
      reflectPad(padded, n, pad);
      medianRow(padded, n, width, filtered, 0, win);
      for (let f = 0; f < n; f++) matrix[mo + f] += filtered[f];
    }
  }
  // mean over heads, negated for DTW (`dtw(-matrix)`)
  const cost = new Float64Array(rows * n);
  for (let k = 0; k < rows * n; k++) cost[k] = -Math.fround(matrix[k] / heads.length);
  const { textIndices, timeIndices } = dtwFloat64(cost, rows, n);

  if (wordTokens.length <= 1) return [];
  const bounds = [0];
  for (let k = 0; k < wordTokens.length - 1; k++) bounds.push(bounds[k] + wordTokens[k].length);
  const jumpTimes: number[] = [];
  for (let k = 0; k < textIndices.length; k++) {
    if (k === 0 || textIndices[k] !== textIndices[k - 1]) jumpTimes.push(timeIndices[k] / TOKENS_PER_SECOND);
  }
  const out: WordTiming[] = [];
  for (let k = 0; k < bounds.length - 1; k++) {
    const i = bounds[k];
    const j = bounds[k + 1];
    let p = 0;
    for (let q = i; q < j; q++) p += textTokenProbs[q];
    out.push({
      word: words[k],
      tokens: [...wordTokens[k]],
      start: jumpTimes[i],
      end: jumpTimes[j],
      probability: j > i ? p / (j - i) : NaN,
    });
  }
  return out;
}

/**
 * timing.py `merge_punctuations`, in place: prepended punctuation (a word that starts with a space
 * and is one of `prepended`) joins the following word, appended punctuation joins the previous word;
 * the emptied entries keep their place with word '' and no tokens.
 */
export function mergePunctuations(alignment: WordTiming[], prepended = PREPEND_PUNCTUATIONS, appended = APPEND_PUNCTUATIONS): void {
  let i = alignment.length - 2;
  let j = alignment.length - 1;
  while (i >= 0) {
    const previous = alignment[i];
    const following = alignment[j];
    if (previous.word.startsWith(' ') && pyIn(pyStrip(previous.word), prepended)) {
      following.word = previous.word + following.word;
      following.tokens = [...previous.tokens, ...following.tokens];
      previous.word = '';
      previous.tokens = [];
    } else {
      j = i;
    }
    i--;
  }
  i = 0;
  j = 1;
  while (j < alignment.length) {
    const previous = alignment[i];
    const following = alignment[j];
    if (!previous.word.endsWith(' ') && pyIn(following.word, appended)) {
      previous.word = previous.word + following.word;
      previous.tokens = [...previous.tokens, ...following.tokens];
      following.word = '';
      following.tokens = [];
    } else {
      i = j;
    }
    j++;
  }
}

/** Python's round(x, 2) on the exact binary value (toFixed rounds the exact value too). */
export function round2(x: number): number {
  return Number(x.toFixed(2));
}

/** numpy.median of a non-empty list. */
function median(values: number[]): number {
  const s = [...values].sort((a, b) => a - b);
  const mid = s.length >> 1;
  return s.length % 2 ? s[mid] : (s[mid - 1] + s[mid]) / 2;
}

/** A window's segment for `addWordTimestamps`: absolute seconds and its text tokens. */
export interface AlignSegment {
  start: number;
  end: number;
  /** text tokens (ids < EOT) */
  tokens: readonly number[];
}

/**
 * timing.py `add_word_timestamps` after find_alignment, for one window: median word duration (capped
 * at 0.7 s) and max = 2 × median; words at sentence ends longer than max truncated; merge_punctuations;
 * words handed to the window's segments by token count, times offset by the window start and rounded
 * to 0.01 s; the first word after a pause and the segment-edge words clamped; each segment's start/end
 * moved to its words' unless the word was too long (openai's "prefer the segment-level timestamp").
 * @param alignment    findAlignment's output (window-relative); modified
 * @param segments     the window's segments in order, whose tokens together are the aligned text tokens
 * @param timeOffset   the window start, seconds
 * @param lastSpeechTimestamp end of the last segment that had words, seconds
 * @returns per segment its words and (possibly moved) start/end, and the new lastSpeechTimestamp
 */
export function addWordTimestamps(
  alignment: WordTiming[],
  segments: readonly AlignSegment[],
  timeOffset: number,
  lastSpeechTimestamp: number,
  prepended = PREPEND_PUNCTUATIONS,
  appended = APPEND_PUNCTUATIONS,
): { segments: { start: number; end: number; words: TimedWord[] }[]; lastSpeechTimestamp: number } {
  const durations = alignment.map((t) => t.end - t.start).filter((d) => d !== 0);
  const medianDuration = Math.min(0.7, durations.length > 0 ? median(durations) : 0);
  const maxDuration = medianDuration * 2;

  // openai: "hack: truncate long words at sentence boundaries"
  if (durations.length > 0) {
    for (let i = 1; i < alignment.length; i++) {
      if (alignment[i].end - alignment[i].start > maxDuration) {
        if (pyIn(alignment[i].word, SENTENCE_END_MARKS)) alignment[i].end = alignment[i].start + maxDuration;
        else if (pyIn(alignment[i - 1].word, SENTENCE_END_MARKS)) alignment[i].start = alignment[i].end - maxDuration;
      }
    }
  }
  mergePunctuations(alignment, prepended, appended);

  let wordIndex = 0;
  const out: { start: number; end: number; words: TimedWord[] }[] = [];
  for (const segment of segments) {
    let savedTokens = 0;
    const words: TimedWord[] = [];
    let { start, end } = segment;
    while (wordIndex < alignment.length && savedTokens < segment.tokens.length) {
      const timing = alignment[wordIndex];
      if (timing.word) {
        words.push({
          word: timing.word,
          start: round2(timeOffset + timing.start),
          end: round2(timeOffset + timing.end),
          probability: timing.probability,
        });
      }
      savedTokens += timing.tokens.length;
      wordIndex++;
    }
    // openai: "hack: truncate long words at segment boundaries"
    if (words.length > 0) {
      const first = words[0];
      if (
        first.end - lastSpeechTimestamp > medianDuration * 4 &&
        (first.end - first.start > maxDuration || (words.length > 1 && words[1].end - first.start > maxDuration * 2))
      ) {
        if (words.length > 1 && words[1].end - words[1].start > maxDuration) {
          const boundary = Math.max(words[1].end / 2, words[1].end - maxDuration);
          first.end = words[1].start = boundary;
        }
        first.start = Math.max(0, first.end - maxDuration);
      }
      // prefer the segment-level start timestamp if the first word is too long
      if (start < first.end && start - 0.5 > first.start) first.start = Math.max(0, Math.min(first.end - medianDuration, start));
      else start = first.start;
      // prefer the segment-level end timestamp if the last word is too long
      const last = words[words.length - 1];
      if (end > last.start && end + 0.5 < last.end) last.end = Math.max(last.start + medianDuration, end);
      else end = last.end;
      lastSpeechTimestamp = end;
    }
    out.push({ start, end, words });
  }
  return { segments: out, lastSpeechTimestamp };
}

/**
 * Our guard on openai's word-based seek: a window's words and segment ends never pass the window's last timestamp
 * token that closed a segment (`lastTimestamp`, where openai/whisper transcribe.py seeks without words:
 * `last_timestamp_position`), so the next window, which with word timestamps starts at the last word's end
 * (transcribe.py and faster-whisper 1.1.0 generate_segments: `seek = round(last_word_end * FRAMES_PER_SECOND)`),
 * never starts past audio the decoder did not transcribe.
 * Why: DTW can stretch a window's last words over the audio after them (the path must reach the window's last frame
 * and stays on one text row through a pause or untranscribed speech). add_word_timestamps' "prefer the segment-level
 * end timestamp" only pulls the last word back when it starts before the segment's end; when the whole word lies
 * after it, openai moves the segment's end to the word's and seeks there. Measured (whisper-base int8, eval:words'
 * long file with pauses): the decoder closed its last segment "… ask what you" at 46.48 s, DTW put "what" at
 * 45.98–52.82 s, the next window started at 52.84 s and "can do for your country. And so my fellow" (46.5–52.8 s)
 * was never decoded: 10 words that the same engine without word timestamps transcribes.
 * Words past the cap keep their order and end at it (zero length, as openai gives words it cannot place).
 * @param segments one window's segments after addWordTimestamps, absolute seconds; not modified
 * @param lastTimestamp absolute seconds: the window start + decoding.ts segmentsFromTokens `consumedSeconds`
 * @returns the segments, times capped at lastTimestamp (rounded to 0.01 s)
 */
export function capAtLastTimestamp<S extends { start: number; end: number; words: TimedWord[] }>(segments: readonly S[], lastTimestamp: number): S[] {
  const cap = round2(lastTimestamp);
  return segments.map((s) => ({
    ...s,
    start: Math.min(s.start, cap),
    end: Math.min(s.end, cap),
    words: s.words.map((w) => ({ ...w, start: Math.min(w.start, cap), end: Math.min(w.end, cap) })),
  }));
}

/**
 * Our guarantees on top of openai's output (openai can emit overlapping or out-of-segment words after
 * its heuristics): every word inside [segStart, segEnd] and inside [0, audioEnd], starts
 * non-decreasing, no overlap with the previous word, end ≥ start. Rounded to 0.01 s.
 * @param prevEnd end of the previous segment's last word (words of consecutive segments do not overlap)
 */
export function clampWords(words: TimedWord[], segStart: number, segEnd: number, prevEnd: number): TimedWord[] {
  let floor = Math.max(segStart, prevEnd);
  return words.map((w) => {
    const start = Math.min(segEnd, Math.max(floor, w.start));
    const end = Math.min(segEnd, Math.max(start, w.end));
    floor = end;
    return { ...w, start: round2(start), end: round2(end) };
  });
}

/** median7Pairs' sorted window for an odd last column (module scratch: findAlignment runs synchronously) */
const window7 = new Float64Array(7);

/**
 * For each c in [0, cols): out[base + c] = the median of p[c … c + 6], two outputs at a time: windows c and c + 1
 * share p[c + 1 … c + 6]; with s2 ≤ s3 the 3rd and 4th smallest of those six, the median of the shared six plus one
 * more value v is min(max(v, s2), s3). s2, s3 from the optimal 12-comparator sorting network for 6 (Knuth TAOCP 5.3.4),
 * pruned to the comparators that reach outputs 2 and 3: 12 compare/selects per output, no data-dependent loop
 * (the sorted window slid along the row before it: 8.8 → 7.7 ms per real jfk×3 window, .scratch/micro.ts). Min/max
 * as `a < b ? a : b` (faster here than Math.min/max, which also order −0 and +0: standardised attention has no −0).
 * No NaN in `p` (the caller checks). The same numbers as a sort (timing.test.ts: ties, every 0/1 window).
 */
function median7Pairs(p: Float32Array, out: Float32Array, base: number, cols: number): void {
  let c = 0;
  for (; c + 1 < cols; c += 2) {
    let a0 = p[c + 1];
    let a1 = p[c + 2];
    let a2 = p[c + 3];
    let a3 = p[c + 4];
    let a4 = p[c + 5];
    let a5 = p[c + 6];
    let t: number;
    let v0: number;
    let v1: number;
    t = (a0 < a5 ? a0 : a5); a5 = (a0 > a5 ? a0 : a5); a0 = t;
    t = (a1 < a3 ? a1 : a3); a3 = (a1 > a3 ? a1 : a3); a1 = t;
    t = (a2 < a4 ? a2 : a4); a4 = (a2 > a4 ? a2 : a4); a2 = t;
    t = (a1 < a2 ? a1 : a2); a2 = (a1 > a2 ? a1 : a2); a1 = t;
    t = (a3 < a4 ? a3 : a4); a4 = (a3 > a4 ? a3 : a4); a3 = t;
    t = (a0 < a3 ? a0 : a3); a3 = (a0 > a3 ? a0 : a3); a0 = t;
    t = (a2 < a5 ? a2 : a5); a5 = (a2 > a5 ? a2 : a5); a2 = t;
    a1 = (a0 > a1 ? a0 : a1);
    t = (a2 < a3 ? a2 : a3); a3 = (a2 > a3 ? a2 : a3); a2 = t;
    a4 = (a4 < a5 ? a4 : a5);
    const lo = (a1 > a2 ? a1 : a2);
    const hi = (a3 < a4 ? a3 : a4);
    out[base + c] = ((v0 = p[c] > lo ? p[c] : lo) < hi ? v0 : hi);
    out[base + c + 1] = ((v1 = p[c + 7] > lo ? p[c + 7] : lo) < hi ? v1 : hi);
  }
  if (c < cols) {
    const w = window7;
    for (let k = 0; k < 7; k++) {
      const v = p[c + k];
      let m = k - 1;
      while (m >= 0 && w[m] > v) {
        w[m + 1] = w[m];
        m--;
      }
      w[m + 1] = v;
    }
    out[base + c] = w[3];
  }
}
