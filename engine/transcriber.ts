/**
 * Long-form transcription of one chunk of 16 kHz mono audio: windows of ≤ 30 s, log-mel, encoder,
 * greedy decode with timestamps, Whisper's seek rule and no-speech guard, text through the tokenizer.
 * Browser-safe: the caller supplies the model and the tokenizer.
 */
import { N_MELS, N_FRAMES, N_SAMPLES, SAMPLE_RATE } from './constants';
import { segmentsFromTokens } from './decoding';
import { logMelSpectrogram } from './logmel';
import type { WhisperModel } from './model';
import { isSilent } from '../audio/chunk-plan';

/** The part of a tokenizer the engine needs (`@huggingface/tokenizers` Tokenizer fits). */
export interface TextDecoder {
  decode(ids: number[], opts?: { skip_special_tokens?: boolean }): string;
}

export interface TranscribeOptions {
  /** ISO 639-1; null = detect (multilingual models) or English (English-only models). */
  language?: string | null;
  task?: 'transcribe' | 'translate';
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
}

/**
 * openai/whisper transcribe.py defaults: a window is skipped as silence when the no-speech
 * probability is above 0.6 and the average log-probability below -1.0.
 */
export const NO_SPEECH_THRESHOLD = 0.6;
export const LOGPROB_THRESHOLD = -1.0;
/** Leftovers shorter than this after the last seek are not decoded (too short to hold a word). */
const MIN_WINDOW_S = 0.2;

export class WhisperTranscriber {
  constructor(
    readonly model: WhisperModel,
    private readonly tokenizer: TextDecoder,
  ) {}

  /**
   * Transcribes audio of any length, window by window (batch 1 per window).
   * @param samples float32 PCM, 16 kHz mono, [-1, 1]
   * @returns segments with start/end in seconds, monotonic, within [0, samples.length / 16000]
   */
  async transcribe(samples: Float32Array, opts: TranscribeOptions = {}): Promise<TranscribeResult> {
    const vocab = this.model.vocab;
    const task = opts.task ?? 'transcribe';
    const duration = samples.length / SAMPLE_RATE;
    let language = opts.language ?? (vocab.isMultilingual ? null : 'en');
    let languageProbability: number | null = null;
    const segments: Segment[] = [];
    let seek = 0; // seconds
    let windows = 0;
    const features = new Float32Array(N_MELS * N_FRAMES);

    while (duration - seek >= MIN_WINDOW_S) {
      const startSample = Math.round(seek * SAMPLE_RATE);
      const window = samples.subarray(startSample, Math.min(samples.length, startSample + N_SAMPLES));
      const windowSeconds = window.length / SAMPLE_RATE;
      if (isSilent(window)) {
        seek += windowSeconds;
        continue;
      }
      logMelSpectrogram(window, { out: features });
      const hidden = await this.model.encode(features, 1);
      if (language === null) {
        const [detected] = await this.model.detectLanguage(hidden);
        language = detected.language;
        languageProbability = detected.probability;
      }
      const [row] = await this.model.decode(hidden, [vocab.prompt(language, task)]);
      windows++;
      const silent = row.noSpeechProb > NO_SPEECH_THRESHOLD && row.avgLogprob < LOGPROB_THRESHOLD;
      if (silent) {
        seek += windowSeconds;
        continue;
      }
      const { segments: ws, consumedSeconds } = segmentsFromTokens(row.tokens, vocab, windowSeconds);
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
    }
    return { segments: monotonic(segments), language: language ?? 'en', languageProbability, windows };
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
