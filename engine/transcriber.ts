/**
 * Long-form transcription of one chunk of 16 kHz mono audio: windows of ≤ 30 s, log-mel, encoder,
 * greedy decode with timestamps, Whisper's seek rule and no-speech guard, text through the tokenizer.
 * Browser-safe: the caller supplies the model and the tokenizer.
 */
import { FRAMES_PER_SECOND, HOP_LENGTH, N_MELS, N_FRAMES, N_SAMPLES, SAMPLE_RATE, TIME_PER_TIMESTAMP_S } from './constants';
import { endsOnSingleTimestamp, segmentsFromTokens } from './decoding';
import { addWordTimestamps, capAtLastTimestamp, clampWords, findAlignment, splitToWordTokens, type WordTiming } from './timing';
import { bestAttempt, compressionRatio, isNoSpeechWindow, needsFallback, temperaturesFrom } from './fallback';
import { mulberry32, seedFrom } from './prng';
import { logMelSpectrogram } from './logmel';
import { BatchItemAbortedError, DynamicBatcher, type BatchClock, type BatcherOptions } from './batcher';
import type { DecodedRow, WhisperModel } from './model';
import { isSilent } from '../audio/chunk-plan';
import { DEFAULT_VAD } from '../audio/vad';

/** The part of a tokenizer the engine needs (`@huggingface/tokenizers` Tokenizer fits). */
export interface TextDecoder {
  decode(ids: number[], opts?: { skip_special_tokens?: boolean }): string;
  /** needed only for `prompt` */
  encode?(text: string, opts?: { add_special_tokens?: boolean }): { ids: number[] };
}

export interface TranscribeOptions {
  /** ISO 639-1; null = detect (multilingual models) or English (English-only models). */
  language?: string | null;
  task?: 'transcribe' | 'translate';
  /**
   * Called after each ≤ 30 s window with how far the transcription has got (seconds of `samples`) and
   * the segments that window produced, so a caller can show progress and text as it is decoded
   * (the in-browser page of privacy mode does).
   */
  onWindow?: (progress: WindowProgress) => void;
  /**
   * Vocabulary or context hint (the API's `prompt`), given to every window as previous-context tokens
   * after `<|startofprev|>`, capped to the last 223 tokens as openai/whisper does. The text of earlier
   * windows or chunks is never added (no conditioning on previous text: it lets a hallucination snowball).
   */
  prompt?: string | null;
  /**
   * Seed for sampling at temperature > 0 (the activity derives it from job id + chunk index), so a
   * retried chunk samples the same tokens.
   */
  seed?: number;
  /**
   * false: greedy only, no temperature fallback (benchmarks that compare with peers run at temperature 0);
   * default true, as openai/whisper.
   */
  fallback?: boolean;
  /**
   * true: every segment gets `words`, from one extra decoder pass per window over its text (openai/whisper
   * timing.py, engine/timing.ts); as openai's transcribe.py with word_timestamps, the next window then
   * starts at the last word's end unless the window ended on a single timestamp. Default false.
   */
  wordTimestamps?: boolean;
  /**
   * false: with `wordTimestamps`, the next window starts where it would without words (the last timestamp), not at
   * the last word's end (openai's rule, the default true). For measuring what the rule costs and changes
   * (bench:words, eval:words --no-word-seek); the service keeps the default.
   */
  wordSeek?: boolean;
  /**
   * The request's temperature (OpenAI `temperature`, 0…1): 0 or absent = greedy first with Whisper's
   * fallback; t > 0 = sample at t first, fall back upward (fallback.ts temperaturesFrom).
   */
  temperature?: number | null;
  /**
   * How a window shorter than 30 s is padded before the encoder ({@link MelPadding}); default {@link DEFAULT_MEL_PADDING}.
   */
  melPadding?: MelPadding;
  /**
   * false: openai/whisper's seek rule unchanged (a single timestamp ending consumes the window); default true:
   * the rest of such a window is decoded again (tailSeek). For before/after measurements (eval:wer `+openai`).
   */
  tailRedecode?: boolean;
}

/** What `onWindow` reports: seconds done of the total, and the window's new segments. */
export interface WindowProgress {
  doneSeconds: number;
  totalSeconds: number;
  segments: Segment[];
}

/**
 * One word of a segment (seconds, same time base as its segment): openai/whisper and faster-whisper's
 * `words[]`; `probability` is the mean probability of the word's tokens.
 */
export interface Word {
  word: string;
  start: number;
  end: number;
  probability: number;
}

/** A segment, seconds relative to the start of the audio passed in. */
export interface Segment {
  start: number;
  end: number;
  text: string;
  avgLogprob: number;
  noSpeechProb: number;
  /** temperature of the attempt that produced it: 0 = greedy, > 0 = after a fallback */
  temperature: number;
  /** its window's kept attempt's compression ratio: the highest among that attempt's segments (compressionRatioOf) */
  compressionRatio: number;
  /**
   * Only with `wordTimestamps`: the segment's words in order, inside [start, end], not overlapping;
   * the word text keeps Whisper's leading space (" Hello,"), as openai/faster-whisper return it.
   */
  words?: Word[];
  /** the segment's text token ids (timestamps and specials left out), as verbose_json `tokens` */
  tokens: number[];
  /** ISO 639-1 code of the language the segment was decoded in (its window's, given or detected) */
  language?: string;
  /**
   * Start of the 30 s window the segment was decoded in, seconds on the audio passed in (openai/whisper
   * transcribe.py's `seek`, there in mel frames: `seek` of the segment dict is the window offset); ≤ `start`.
   */
  windowStart: number;
}

export interface TranscribeResult {
  segments: Segment[];
  language: string;
  languageProbability: number | null;
  /** Windows decoded (including skipped no-speech ones). */
  windows: number;
  /** per decoded window, how many windows shared its model run */
  batchSizes: number[];
  /** per decoded window, the temperature of its final attempt (0 = the greedy pass passed the guards) */
  temperatures: number[];
  /** windows that decoded the rest of the previous one after a single timestamp ending (tailSeek) */
  tailWindows?: number;
  /** first segments of such windows dropped because they only repeated the segment before (repeatsEnd) */
  tailRepeatsDropped?: number;
  /** with `wordTimestamps`: per window that was aligned, the seconds its alignment took (its share of a batched pass) */
  alignmentSeconds?: number[];
}

/** openai/whisper transcribe.py defaults, re-exported where the engine's callers look for them. */
export { LOGPROB_THRESHOLD, NO_SPEECH_THRESHOLD } from './fallback';
/** Leftovers shorter than this after the last seek are not decoded (too short to hold a word). */
const MIN_WINDOW_S = 0.2;

/**
 * How much of a window must be left after an output that ended on a single timestamp before the rest is decoded
 * again (`tailSeek`): 1.05 s = the trailing `speech_pad_ms` of one VAD piece (400 ms) + the leading pad of the next
 * (400 ms) + the shortest speech the VAD keeps (`min_speech_duration_ms`, 250 ms), faster-whisper 1.1.0 VadOptions
 * (our audio/vad.ts DEFAULT_VAD). A chunk we send is VAD speech with its pauses removed, so a shorter rest can hold
 * no further speech span, only the padding around the speech just transcribed. Measured on bench:pipeline's file
 * (tiny.en, the 21 chunks of the original-span planner): windows that had transcribed everything ended on a single
 * timestamp with −1.45 … 0.91 s left (padding, and the model's end timestamp a little early or late); the six
 * that stopped after jfk had 8.6 … 9.1 s left, each a whole sentence the tail window then transcribed.
 */
export const TAIL_REDECODE_MIN_S = (2 * DEFAULT_VAD.speechPadMs + DEFAULT_VAD.minSpeechDurationMs) / 1000;

/**
 * Where to decode again after a window whose output ended on a single timestamp well before the window's end.
 *
 * openai/whisper transcribe.py reads a single timestamp ending (`timestamp_tokens[-2:] == [False, True]`) as
 * "no speech after the last timestamp" and consumes the whole window (`seek += segment_size`); faster-whisper's
 * sequential `generate_segments` does the same. On audio with natural pauses that is mostly right. Our chunks are
 * VAD speech with the pauses between speech spans cut out (audio/speech-spans.ts), so a window is speech end to end:
 * when the model closes a segment at 11 s and stops (tiny.en does so after jfk when the next sentence follows a removed
 * pause), the other 19 s are not "nothing", they were never decoded, and openai's rule drops them (6 of 20 passages
 * of bench:pipeline's file, 748 words against faster-whisper's 894). So we seek to the last timestamp instead and
 * decode the rest as a new window.
 *
 * faster-whisper's BatchedInferencePipeline does not meet the case: it decodes each VAD chunk in one pass,
 * by default `without_timestamps=True` (transcribe.py `BatchedInferencePipeline.transcribe`), so the decoder
 * never closes a timestamp and ends only at EOT or max_length, and the chunk is one segment with the chunk's times.
 * We keep timestamps: the chunk merge (audio/transcript.ts), SSE segments, captions and word alignment need
 * segment times inside a chunk, so we re-decode the tail rather than drop timestamps.
 *
 * @param tokens  a window's sampled ids, prompt and EOT excluded
 * @param windowSeconds the window's length, seconds
 * @returns window-relative seconds of the ending timestamp, when the output ended on a single timestamp
 *   (with or without an earlier closed pair) that lies > 0 and at least TAIL_REDECODE_MIN_S before the window's end;
 *   else null (openai's seek stands)
 */
export function tailSeek(tokens: readonly number[], vocab: Pick<WhisperModel['vocab'], 'timestampBegin'>, windowSeconds: number): number | null {
  if (!endsOnSingleTimestamp(tokens, vocab)) return null;
  const last = Math.min((tokens[tokens.length - 1] - vocab.timestampBegin) * TIME_PER_TIMESTAMP_S, windowSeconds);
  if (!(last > 0) || windowSeconds - last < TAIL_REDECODE_MIN_S) return null;
  return last;
}

/** lower case, letters and digits only, one space between words */
function plainWords(text: string): string {
  return text.toLowerCase().replace(/[^\p{L}\p{N}']+/gu, ' ').trim();
}

/**
 * True when a re-decoded tail's first segment only repeats the end of the segment before it (the model's last
 * timestamp came early and the tail window began inside the words already transcribed): its text, in plain words,
 * is a whole-word suffix of the previous segment's.
 */
export function repeatsEnd(previous: string, text: string): boolean {
  const a = plainWords(previous);
  const b = plainWords(text);
  return b.length > 0 && (a === b || a.endsWith(' ' + b));
}

/**
 * How a window shorter than 30 s reaches the encoder:
 * - 'audio': the log-mel of the window's audio zero-padded to 30 s (engine/logmel.ts; openai audio.py
 *   `log_mel_spectrogram(pad_or_trim(audio))`, HF WhisperFeatureExtractor): the frames past the audio hold the
 *   log-mel floor, (window max − 8 + 4) / 4;
 * - 'zeros': openai/whisper transcribe.py's decoding window: the log-mel of the audio (with the zeros after it for
 *   the STFT and the window max), cut after its last whole frame, then `pad_or_trim(mel_segment, N_FRAMES)`, which
 *   pads with 0.0 in the normalised log-mel domain (transcribe.py l.283–286 at c0d2f62; faster-whisper 1.1.0 the
 *   same: `pad_or_trim` of its features, audio.py). Language detection keeps the 'audio' window, as
 *   transcribe.py l.151 detects on `pad_or_trim(mel, N_FRAMES)` of the audio-padded mel: a row that detects and is
 *   padded runs the encoder a second time for it.
 */
export type MelPadding = 'audio' | 'zeros';

/**
 * 'zeros', the reference implementations' decoding window (openai transcribe.py, faster-whisper 1.1.0): every
 * service chunk ends in a window shorter than 30 s, and the log-mel floor there made the int8 graphs misread words
 * the references read right. eval:wer long set (docs/models.md "The decoding window's padding"): tiny.en int8 meets
 * "≤ faster-whisper batched + 0.2 points" on every row with it (telephone 21.5 → 16.9 %, f-w b 18.5), base
 * fp32-encoder 9.56 → 7.19 % over the set (30 s pause 1.4 → 0.0, phrase 32.4 → 8.4; telephone 16.9 → 20.0).
 */
export const DEFAULT_MEL_PADDING: MelPadding = 'zeros';

/** One ≤ 30 s window to decode. */
export interface WindowRequest {
  /** float32 PCM, 16 kHz mono, at most 30 s */
  samples: Float32Array;
  /** null = detect (multilingual models) */
  language: string | null;
  task: 'transcribe' | 'translate';
  /** previous-context text tokens (no specials), capped by the vocabulary; empty = none */
  context?: readonly number[];
  /** seeds the sampling of the fallback attempts */
  seed?: number;
  /** false: keep the first attempt whatever the guards say */
  fallback?: boolean;
  /** true: also align the kept tokens to the audio (WindowResult.alignment) */
  wordTimestamps?: boolean;
  /** the first temperature tried (TranscribeOptions.temperature); 0 = greedy */
  temperature?: number | null;
  /** TranscribeOptions.melPadding; default {@link DEFAULT_MEL_PADDING} */
  melPadding?: MelPadding;
}

/** A decoded window: the model's tokens and guards, and the language it was decoded in. */
export interface WindowResult extends DecodedRow {
  language: string;
  languageProbability: number | null;
  /** how many windows shared the model run */
  batchSize: number;
  /** temperature of the attempt kept: the first that passed the guards, else the last (1.0) */
  temperature: number;
  compressionRatio: number;
  /**
   * the no-speech rule's verdict over all the window's attempts (fallback.ts isNoSpeechWindow): true = silence,
   * its text is dropped
   */
  noSpeech: boolean;
  /**
   * with `wordTimestamps` and speech: openai's find_alignment over the text tokens of the window's
   * segments (window-relative seconds, before add_word_timestamps' heuristics)
   */
  alignment?: WordTiming[];
  /** seconds the alignment took, this window's share of the batched pass */
  alignmentSeconds?: number;
}

export interface BatchingOptions {
  maxBatch: number;
  maxWaitMs: number;
  clock?: BatchClock;
  onBatch?: BatcherOptions<WindowRequest, WindowResult>['onBatch'];
}

export interface GuardOptions {
  /**
   * Length of the zlib (RFC 1950, default level) stream of the bytes, for Whisper's compression-ratio
   * guard; Node: `(b) => zlib.deflateSync(b).length`, browsers: CompressionStream('deflate').
   * Absent = the guard is off (only the log-probability guard triggers the temperature fallback).
   */
  deflatedLength?: (bytes: Uint8Array) => number | Promise<number>;
}

export class WhisperTranscriber {
  private readonly batcher: DynamicBatcher<WindowRequest, WindowResult> | null;

  /**
   * @param batching when given, windows of concurrent `transcribe` calls are decoded together, up to
   *   `maxBatch` per model run or after `maxWaitMs`; without it each window runs alone
   */
  constructor(
    readonly model: WhisperModel,
    private readonly tokenizer: TextDecoder,
    batching?: BatchingOptions,
    private readonly guards: GuardOptions = {},
  ) {
    this.batcher = batching
      ? new DynamicBatcher({ ...batching, run: (reqs) => this.runWindows(reqs) })
      : null;
  }

  /**
   * Decodes a batch of windows in one encoder run and batched KV-cache decodes: log-mel per window,
   * encoder on [batch, 80, 3000], language detection for rows without a language, greedy decoding
   * with every row stopping on its own end token; then Whisper's temperature fallback for the rows
   * whose text is too repetitive or too unlikely (fallback.ts), sampled again at 0.2, 0.4 … 1.0 from
   * the same encoder output. Rows whose prompts differ in length decode in separate groups.
   * @returns one result per request, in order
   */
  async runWindows(reqs: WindowRequest[]): Promise<WindowResult[]> {
    const vocab = this.model.vocab;
    const frame = N_MELS * N_FRAMES;
    const features = new Float32Array(reqs.length * frame);
    reqs.forEach((r, i) => logMelSpectrogram(r.samples, { out: features.subarray(i * frame, (i + 1) * frame) }));
    const languages = reqs.map((r) => ({ language: r.language ?? (vocab.isMultilingual ? null : 'en'), probability: null as number | null }));
    const detecting = languages.flatMap((l, i) => (l.language === null ? [i] : []));
    // 'zeros' (MelPadding): frames from the window's last whole frame on are 0.0 (openai transcribe.py content_frames)
    const contentFrames = reqs.map((r) => ((r.melPadding ?? DEFAULT_MEL_PADDING) === 'zeros' ? Math.min(N_FRAMES, Math.floor(r.samples.length / HOP_LENGTH)) : N_FRAMES));
    // detection reads the audio-padded window (transcribe.py l.151): kept before the padding changes
    const detectFeatures = detecting.some((i) => contentFrames[i] < N_FRAMES) ? new Float32Array(detecting.length * frame) : null;
    detecting.forEach((i, k) => detectFeatures?.set(features.subarray(i * frame, (i + 1) * frame), k * frame));
    reqs.forEach((_, i) => {
      if (contentFrames[i] < N_FRAMES) for (let m = 0; m < N_MELS; m++) features.fill(0, i * frame + m * N_FRAMES + contentFrames[i], i * frame + (m + 1) * N_FRAMES);
    });
    const hidden = await this.model.encode(features, reqs.length);
    if (detecting.length > 0) {
      const detected = detectFeatures
        ? await this.model.detectLanguage(await this.model.encode(detectFeatures, detecting.length))
        : (await this.model.detectLanguage(hidden)).filter((_, i) => languages[i].language === null);
      detecting.forEach((i, k) => {
        languages[i].language = detected[k].language;
        languages[i].probability = detected[k].probability;
      });
    }
    const prompts = reqs.map((r, i) => [...vocab.contextPrefix(r.context ?? []), ...vocab.prompt(languages[i].language, r.task)]);
    type Attempt = DecodedRow & { temperature: number; compressionRatio: number };
    const kept: Attempt[] = new Array(reqs.length);
    const tried: Attempt[][] = reqs.map(() => []);
    // Rows asking for different start temperatures step through their own lists, in lock step.
    const lists = reqs.map((r) => temperaturesFrom(r.temperature));
    let pending = reqs.map((_, i) => i);
    for (let k = 0; pending.length > 0; k++) {
      const retry: number[] = [];
      const byTemperature = new Map<number, number[]>();
      for (const i of pending) byTemperature.set(lists[i][k], [...(byTemperature.get(lists[i][k]) ?? []), i]);
      for (const [temperature, rowsAt] of byTemperature) {
        const rows = await this.decodeRows(hidden, rowsAt, prompts, temperature, (i) => mulberry32(seedFrom(reqs[i].seed ?? 0, k)));
        for (let j = 0; j < rowsAt.length; j++) {
          const i = rowsAt[j];
          const compressionRatio = await this.compressionRatioOf(rows[j].tokens);
          const attempt = { ...rows[j], temperature, compressionRatio };
          kept[i] = attempt;
          tried[i].push(attempt);
          if (reqs[i].fallback === false || !needsFallback(attempt, tried[i].slice(0, -1))) continue;
          if (k + 1 < lists[i].length) retry.push(i);
          // Every temperature failed: the best attempt on Whisper's criteria, not the last (fallback.ts).
          else kept[i] = tried[i][bestAttempt(tried[i])];
        }
      }
      pending = retry.sort((a, b) => a - b);
    }
    const results: WindowResult[] = kept.map((row, i) => ({
      ...row,
      language: languages[i].language!,
      languageProbability: languages[i].probability,
      batchSize: reqs.length,
      noSpeech: isNoSpeechWindow(tried[i]),
    }));
    await this.alignWindows(reqs, results, hidden);
    return results;
  }

  /**
   * Word alignment of the windows that asked for it, in one batched decoder pass without cache
   * (model.alignmentPass), then openai's find_alignment per window (engine/timing.ts). Windows judged
   * no-speech, or without text, are skipped. Sets `alignment` and `alignmentSeconds` on those results.
   */
  private async alignWindows(
    reqs: readonly WindowRequest[],
    results: WindowResult[],
    hidden: Awaited<ReturnType<WhisperModel['encode']>>,
  ): Promise<void> {
    const vocab = this.model.vocab;
    const rows: { i: number; textTokens: number[]; sotSequence: number[] }[] = [];
    reqs.forEach((r, i) => {
      if (!r.wordTimestamps || results[i].noSpeech) return;
      const windowSeconds = r.samples.length / SAMPLE_RATE;
      // openai aligns the text tokens of the window's segments: an unfinished last segment is decoded
      // again by the next window, so its tokens are left out here too.
      const textTokens = segmentsFromTokens(results[i].tokens, vocab, windowSeconds).segments.flatMap((s) => s.tokens);
      if (textTokens.length === 0) {
        results[i].alignment = [];
        return;
      }
      rows.push({ i, textTokens, sotSequence: vocab.prompt(results[i].language, r.task) });
    });
    if (rows.length === 0) return;
    if (vocab.alignmentHeads.length === 0) throw new Error('word timestamps: generation_config.json names no alignment_heads');
    const t0 = performance.now();
    const passes = await this.model.alignmentPass(
      this.model.selectRows(hidden, rows.map((r) => r.i)),
      rows,
      vocab.alignmentHeads,
    );
    const decode = (ids: number[]) => this.tokenizer.decode(ids, { skip_special_tokens: false });
    rows.forEach((row, k) => {
      const req = reqs[row.i];
      const { words, wordTokens } = splitToWordTokens([...row.textTokens, vocab.eot], decode, vocab.eot, results[row.i].language);
      results[row.i].alignment = findAlignment({
        ...passes[k],
        positions: N_FRAMES / 2,
        sotLength: row.sotSequence.length,
        textTokens: row.textTokens,
        numFrames: Math.floor(req.samples.length / HOP_LENGTH),
        words,
        wordTokens,
      });
    });
    const share = (performance.now() - t0) / 1000 / rows.length;
    for (const row of rows) results[row.i].alignmentSeconds = share;
  }

  /** Decodes the given rows of `hidden` at one temperature, one batched decode per prompt length. */
  private async decodeRows(
    hidden: Awaited<ReturnType<WhisperModel['encode']>>,
    rows: readonly number[],
    prompts: readonly number[][],
    temperature: number,
    random: (row: number) => () => number,
  ): Promise<DecodedRow[]> {
    const groups = new Map<number, number[]>();
    rows.forEach((i, j) => {
      const len = prompts[i].length;
      groups.set(len, [...(groups.get(len) ?? []), j]);
    });
    const out: DecodedRow[] = new Array(rows.length);
    for (const members of groups.values()) {
      const idx = members.map((j) => rows[j]);
      const all = idx.length === hidden.dims[0] && idx.every((r, k) => r === k);
      const decoded = await this.model.decode(
        all ? hidden : this.model.selectRows(hidden, idx),
        idx.map((i) => prompts[i]),
        temperature > 0 ? { temperatures: idx.map(() => temperature), random: idx.map(random) } : {},
      );
      members.forEach((j, m) => (out[j] = decoded[m]));
    }
    return out;
  }

  /**
   * Whisper's compression-ratio guard, measured per timestamped segment: the highest ratio among the
   * runs of text between timestamp tokens (an unfinished last run included), timestamps and specials
   * left out; 0 with the guard off or no text.
   * Why per segment, where openai/whisper `decode_with_fallback` compresses the whole window's text: the
   * guard is there to catch a decoding loop, and a loop repeats inside one segment (the decoder never
   * closes it: "you can do for you can do for …" up to the 224-token limit), while speech that says
   * the same sentence again comes back as separate segments, each closed by its own advancing timestamps,
   * each of which compresses normally. Over the whole window that speech looks like a loop (ratio 9.6 on
   * 30 s of one phrase said seven times, whose greedy text was right), so Whisper's rule resamples it
   * and keeps a worse sample. faster-whisper 1.1.0's BatchedInferencePipeline reports the ratio per
   * segment too (transcribe.py `forward`, `compression_ratio=get_compression_ratio(...subsegment...)`).
   */
  private async compressionRatioOf(tokens: readonly number[]): Promise<number> {
    if (!this.guards.deflatedLength) return 0;
    const runs: number[][] = [[]];
    for (const t of tokens) {
      if (this.model.vocab.isTimestamp(t)) runs.push([]);
      else if (t < this.model.vocab.eot) runs[runs.length - 1].push(t);
    }
    let worst = 0;
    for (const run of runs) {
      // Timestamps only (no text) repeat nothing; the tokenizer also refuses an empty list.
      if (run.length === 0) continue;
      const text = this.tokenizer.decode(run, { skip_special_tokens: true }).trim();
      worst = Math.max(worst, await compressionRatio(text, this.guards.deflatedLength));
    }
    return worst;
  }

  /**
   * Language identification on the first 30 s window alone (openai/whisper `detect_language`), for
   * routing a job before it is transcribed. Runs outside the batcher: one encoder run, one decoder step.
   * @param samples float32 PCM, 16 kHz mono; only the first N_SAMPLES are used
   * @throws Error on an English-only model
   */
  async detectLanguage(samples: Float32Array): Promise<{ language: string; probability: number }> {
    const window = samples.subarray(0, Math.min(samples.length, N_SAMPLES));
    const hidden = await this.model.encode(logMelSpectrogram(window), 1);
    return (await this.model.detectLanguage(hidden))[0];
  }

  private decodeWindow(req: WindowRequest, signal?: AbortSignal): Promise<WindowResult> {
    if (this.batcher) return this.batcher.submit(req, signal);
    return this.runWindows([req]).then((r) => r[0]);
  }

  /**
   * Transcribes audio of any length: ≤ 30 s windows, each starting where the previous one's last
   * complete segment ended (Whisper's seek), silent windows skipped.
   * @param samples float32 PCM, 16 kHz mono, [-1, 1]
   * @param signal aborts between windows (and takes a queued window out of its batch)
   * @returns segments with start/end in seconds, monotonic, within [0, samples.length / 16000]
   */
  async transcribe(samples: Float32Array, opts: TranscribeOptions = {}, signal?: AbortSignal): Promise<TranscribeResult> {
    const vocab = this.model.vocab;
    const task = opts.task ?? 'transcribe';
    const duration = samples.length / SAMPLE_RATE;
    let language = opts.language ?? (vocab.isMultilingual ? null : 'en');
    let languageProbability: number | null = null;
    const context = this.contextTokens(opts.prompt);
    const segments: Segment[] = [];
    let seek = 0; // seconds
    let windows = 0;
    const batchSizes: number[] = [];
    const temperatures: number[] = [];
    const alignmentSeconds: number[] = [];
    const wordTimestamps = opts.wordTimestamps === true;
    // openai transcribe.py: last_speech_timestamp, the end of the last segment with words
    let lastSpeechTimestamp = 0;
    // this window is the rest of the previous one, decoded again after a single timestamp ending (tailSeek)
    let isTail = false;
    let tailWindows = 0;
    let tailRepeatsDropped = 0;

    while (duration - seek >= MIN_WINDOW_S) {
      if (signal?.aborted) throw new BatchItemAbortedError();
      const startSample = Math.round(seek * SAMPLE_RATE);
      const window = samples.subarray(startSample, Math.min(samples.length, startSample + N_SAMPLES));
      const windowSeconds = window.length / SAMPLE_RATE;
      if (isSilent(window)) {
        isTail = false;
        seek += windowSeconds;
        opts.onWindow?.({ doneSeconds: Math.min(seek, duration), totalSeconds: duration, segments: [] });
        continue;
      }
      const seed = seedFrom(opts.seed ?? 0, startSample);
      const row = await this.decodeWindow(
        { samples: window, language, task, context, seed, fallback: opts.fallback, wordTimestamps, temperature: opts.temperature, melPadding: opts.melPadding },
        signal,
      );
      if (language === null) {
        // The first window decides the language for the rest (openai transcribe.py does the same).
        language = row.language;
        languageProbability = row.languageProbability;
      }
      windows++;
      batchSizes.push(row.batchSize);
      temperatures.push(row.temperature);
      if (row.noSpeech) {
        isTail = false;
        seek += windowSeconds;
        opts.onWindow?.({ doneSeconds: Math.min(seek, duration), totalSeconds: duration, segments: [] });
        continue;
      }
      const { segments: ws, consumedSeconds } = segmentsFromTokens(row.tokens, vocab, windowSeconds);
      let timed: { start: number; end: number; words: Word[] }[] | null = null;
      if (wordTimestamps && row.alignment) {
        const r = addWordTimestamps(
          row.alignment,
          ws.map((s) => ({ start: seek + s.start, end: seek + s.end, tokens: s.tokens })),
          seek,
          lastSpeechTimestamp,
        );
        // words and segment ends stop at the window's last timestamp, so the word-based seek below never skips
        // untranscribed audio (timing.ts capAtLastTimestamp)
        timed = capAtLastTimestamp(r.segments, seek + consumedSeconds);
        // openai transcribe.py and faster-whisper generate_segments: after the window, the last word's end
        // (get_end), not add_word_timestamps' segment end (which "prefer the segment-level end" can move)
        lastSpeechTimestamp = lastEnd(timed) ?? lastSpeechTimestamp;
        if (row.alignmentSeconds !== undefined) alignmentSeconds.push(row.alignmentSeconds);
      }
      const firstNew = segments.length;
      ws.forEach((s, k) => {
        const text = this.tokenizer.decode(s.tokens, { skip_special_tokens: true }).trim();
        if (!text) return;
        if (isTail && segments.length === firstNew && firstNew > 0 && repeatsEnd(segments[firstNew - 1].text, text)) {
          // the tail began inside words already transcribed: keep them once
          tailRepeatsDropped++;
          return;
        }
        const t = timed?.[k];
        segments.push({
          start: clamp(t ? t.start : seek + s.start, 0, duration),
          end: clamp(t ? t.end : seek + s.end, 0, duration),
          text,
          avgLogprob: row.avgLogprob,
          noSpeechProb: row.noSpeechProb,
          temperature: row.temperature,
          compressionRatio: row.compressionRatio,
          tokens: s.tokens,
          language: row.language,
          windowStart: seek,
          ...(wordTimestamps ? { words: t?.words ?? [] } : {}),
        });
      });
      // A window that consumed nothing would loop forever: always move forward.
      let next = seek + (consumedSeconds > 0 ? consumedSeconds : windowSeconds);
      if (timed && !endsOnSingleTimestamp(row.tokens, vocab) && opts.wordSeek !== false) {
        // openai transcribe.py with word_timestamps: seek to the last word's end (in whole mel frames)
        const lastWordEnd = lastEnd(timed);
        const wordSeek = lastWordEnd === null ? seek : Math.round(lastWordEnd * FRAMES_PER_SECOND) / FRAMES_PER_SECOND;
        // strictly forward, or a window could be decoded again and again
        if (wordSeek > seek) next = wordSeek;
      }
      // A window ended on a single timestamp well before its end (tailSeek): decode the rest instead of skipping it,
      // unless the rest is below the energy floor. Strictly forward (tail > 0), and a tail that itself produced no
      // text does not start another, so a stretch the model will not transcribe costs one extra window, not a loop.
      const tail = tailSeek(row.tokens, vocab, windowSeconds);
      const producedText = segments.length > firstNew;
      if (tail !== null && opts.tailRedecode !== false && (!isTail || producedText) && !isSilent(window.subarray(Math.round(tail * SAMPLE_RATE)))) {
        next = seek + tail;
        isTail = true;
        tailWindows++;
      } else {
        isTail = false;
      }
      seek = next;
      opts.onWindow?.({ doneSeconds: Math.min(seek, duration), totalSeconds: duration, segments: segments.slice(firstNew) });
    }
    const out = monotonic(segments);
    if (wordTimestamps) clampSegmentWords(out);
    return {
      segments: out,
      language: language ?? 'en',
      languageProbability,
      windows,
      batchSizes,
      temperatures,
      tailWindows,
      tailRepeatsDropped,
      ...(wordTimestamps ? { alignmentSeconds } : {}),
    };
  }

  /** The prompt's text tokens (promptTextTokens), uncapped; [] for none. */
  private contextTokens(prompt: string | null | undefined): number[] {
    return promptTextTokens(this.tokenizer, prompt, this.model.vocab.eot);
  }
}

/**
 * A prompt's text tokens as openai/whisper transcribe.py (`tokenizer.encode(" " + initial_prompt.strip())`)
 * and faster-whisper transcribe.py (the same for `initial_prompt` and `hotwords`) make them: trimmed, one
 * leading space (Whisper's BPE spells a word after a space differently from one at the start of a text,
 * and the decoder's output words carry the space), no special tokens. The caller places them after
 * `<|startofprev|>`, keeping the last 223 (WhisperVocab.contextPrefix).
 * @param eot `<|endoftext|>`: ids from it up (specials a tokenizer might add) are dropped
 * @returns token ids; [] for an empty or missing prompt
 * @throws Error when the tokenizer cannot encode
 */
export function promptTextTokens(tokenizer: Pick<TextDecoder, 'encode'>, prompt: string | null | undefined, eot: number): number[] {
  const text = prompt?.trim();
  if (!text) return [];
  if (!tokenizer.encode) throw new Error('prompt: this tokenizer cannot encode text');
  return tokenizer.encode(' ' + text, { add_special_tokens: false }).ids.filter((t) => t < eot);
}

function clamp(x: number, lo: number, hi: number): number {
  return Math.min(hi, Math.max(lo, x));
}

/** openai transcribe.py get_end: the end of the last word of the last segment that has words. */
function lastEnd(segs: readonly { words: Word[] }[]): number | null {
  for (let i = segs.length - 1; i >= 0; i--) {
    const w = segs[i].words;
    if (w.length > 0) return w[w.length - 1].end;
  }
  return null;
}

/** Words inside their (final) segment's bounds and never overlapping across segments (timing.ts clampWords). */
function clampSegmentWords(segments: Segment[]): void {
  let prevEnd = 0;
  for (const s of segments) {
    if (!s.words || s.words.length === 0) continue;
    s.words = clampWords(s.words, s.start, s.end, prevEnd);
    prevEnd = s.words[s.words.length - 1].end;
  }
}

/** Makes starts non-decreasing and every end ≥ its start (timestamps from separate windows can touch). */
function monotonic(segments: Segment[]): Segment[] {
  let prevEnd = 0;
  return segments.map((s) => {
    const start = Math.max(s.start, Math.min(prevEnd, s.end));
    const end = Math.max(s.end, start);
    prevEnd = end;
    return { ...s, start: round2(start), end: round2(end) };
  });
}

function round2(x: number): number {
  return Math.round(x * 100) / 100;
}
