/**
 * Long-form transcription of one chunk of 16 kHz mono audio: windows of ≤ 30 s, log-mel, encoder,
 * greedy decode with timestamps, Whisper's seek rule and no-speech guard, text through the tokenizer.
 * Browser-safe: the caller supplies the model and the tokenizer.
 */
import { N_MELS, N_FRAMES, N_SAMPLES, SAMPLE_RATE } from './constants';
import { segmentsFromTokens } from './decoding';
import { logMelSpectrogram } from './logmel';
import { BatchItemAbortedError, DynamicBatcher, type BatchClock, type BatcherOptions } from './batcher';
import type { DecodedRow, WhisperModel } from './model';
import { isSilent } from '../audio/chunk-plan';

/** The part of a tokenizer the engine needs (`@huggingface/tokenizers` Tokenizer fits). */
export interface TextDecoder {
  decode(ids: number[], opts?: { skip_special_tokens?: boolean }): string;
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
}

/** What `onWindow` reports: seconds done of the total, and the window's new segments. */
export interface WindowProgress {
  doneSeconds: number;
  totalSeconds: number;
  segments: Segment[];
}

/** A segment, seconds relative to the start of the audio passed in. */
export interface Segment {
  start: number;
  end: number;
  text: string;
  avgLogprob: number;
  noSpeechProb: number;
}

export interface TranscribeResult {
  segments: Segment[];
  language: string;
  languageProbability: number | null;
  /** Windows decoded (including skipped no-speech ones). */
  windows: number;
  /** per decoded window, how many windows shared its model run */
  batchSizes: number[];
}

/**
 * openai/whisper transcribe.py defaults: a window is skipped as silence when the no-speech
 * probability is above 0.6 and the average log-probability below -1.0.
 */
export const NO_SPEECH_THRESHOLD = 0.6;
export const LOGPROB_THRESHOLD = -1.0;
/** Leftovers shorter than this after the last seek are not decoded (too short to hold a word). */
const MIN_WINDOW_S = 0.2;

/** One ≤ 30 s window to decode. */
export interface WindowRequest {
  /** float32 PCM, 16 kHz mono, at most 30 s */
  samples: Float32Array;
  /** null = detect (multilingual models) */
  language: string | null;
  task: 'transcribe' | 'translate';
}

/** A decoded window: the model's tokens and guards, and the language it was decoded in. */
export interface WindowResult extends DecodedRow {
  language: string;
  languageProbability: number | null;
  /** how many windows shared the model run */
  batchSize: number;
}

export interface BatchingOptions {
  maxBatch: number;
  maxWaitMs: number;
  clock?: BatchClock;
  onBatch?: BatcherOptions<WindowRequest, WindowResult>['onBatch'];
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
  ) {
    this.batcher = batching
      ? new DynamicBatcher({ ...batching, run: (reqs) => this.runWindows(reqs) })
      : null;
  }

  /**
   * Decodes a batch of windows in one encoder run and one batched KV-cache decode: log-mel per window,
   * encoder on [batch, 80, 3000], language detection for rows without a language, greedy decoding
   * with every row stopping on its own end token.
   * @returns one result per request, in order
   */
  async runWindows(reqs: WindowRequest[]): Promise<WindowResult[]> {
    const vocab = this.model.vocab;
    const frame = N_MELS * N_FRAMES;
    const features = new Float32Array(reqs.length * frame);
    reqs.forEach((r, i) => logMelSpectrogram(r.samples, { out: features.subarray(i * frame, (i + 1) * frame) }));
    const hidden = await this.model.encode(features, reqs.length);
    const languages = reqs.map((r) => ({ language: r.language ?? (vocab.isMultilingual ? null : 'en'), probability: null as number | null }));
    if (languages.some((l) => l.language === null)) {
      const detected = await this.model.detectLanguage(hidden);
      languages.forEach((l, i) => {
        if (l.language === null) {
          l.language = detected[i].language;
          l.probability = detected[i].probability;
        }
      });
    }
    const rows = await this.model.decode(hidden, reqs.map((r, i) => vocab.prompt(languages[i].language, r.task)));
    return rows.map((row, i) => ({
      ...row,
      language: languages[i].language!,
      languageProbability: languages[i].probability,
      batchSize: reqs.length,
    }));
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
    const segments: Segment[] = [];
    let seek = 0; // seconds
    let windows = 0;
    const batchSizes: number[] = [];

    while (duration - seek >= MIN_WINDOW_S) {
      if (signal?.aborted) throw new BatchItemAbortedError();
      const startSample = Math.round(seek * SAMPLE_RATE);
      const window = samples.subarray(startSample, Math.min(samples.length, startSample + N_SAMPLES));
      const windowSeconds = window.length / SAMPLE_RATE;
      if (isSilent(window)) {
        seek += windowSeconds;
        opts.onWindow?.({ doneSeconds: Math.min(seek, duration), totalSeconds: duration, segments: [] });
        continue;
      }
      const row = await this.decodeWindow({ samples: window, language, task }, signal);
      if (language === null) {
        // The first window decides the language for the rest (openai transcribe.py does the same).
        language = row.language;
        languageProbability = row.languageProbability;
      }
      windows++;
      batchSizes.push(row.batchSize);
      const silent = row.noSpeechProb > NO_SPEECH_THRESHOLD && row.avgLogprob < LOGPROB_THRESHOLD;
      if (silent) {
        seek += windowSeconds;
        opts.onWindow?.({ doneSeconds: Math.min(seek, duration), totalSeconds: duration, segments: [] });
        continue;
      }
      const { segments: ws, consumedSeconds } = segmentsFromTokens(row.tokens, vocab, windowSeconds);
      const firstNew = segments.length;
      for (const s of ws) {
        const text = this.tokenizer.decode(s.tokens, { skip_special_tokens: true }).trim();
        if (!text) continue;
        segments.push({
          start: clamp(seek + s.start, 0, duration),
          end: clamp(seek + s.end, 0, duration),
          text,
          avgLogprob: row.avgLogprob,
          noSpeechProb: row.noSpeechProb,
        });
      }
      // A window that consumed nothing would loop forever: always move forward.
      seek += consumedSeconds > 0 ? consumedSeconds : windowSeconds;
      opts.onWindow?.({ doneSeconds: Math.min(seek, duration), totalSeconds: duration, segments: segments.slice(firstNew) });
    }
    return { segments: monotonic(segments), language: language ?? 'en', languageProbability, windows, batchSizes };
  }
}

function clamp(x: number, lo: number, hi: number): number {
  return Math.min(hi, Math.max(lo, x));
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
