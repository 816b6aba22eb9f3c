/**
 * Whisper's special tokens for one model, read from its `generation_config.json`.
 * Browser-safe: takes parsed JSON, reads no files.
 *
 * Timestamp tokens are not in tokenizer.json: every id above `<|notimestamps|>` is a timestamp,
 * `<|notimestamps|>` + 1 = 0.00 s, in steps of TIME_PER_TIMESTAMP_S (openai/whisper tokenizer.py
 * `timestamp_begin`).
 */
export interface GenerationConfig {
  decoder_start_token_id: number;
  eos_token_id: number;
  no_timestamps_token_id: number;
  suppress_tokens: number[];
  begin_suppress_tokens: number[];
  max_initial_timestamp_index?: number;
  is_multilingual?: boolean;
  lang_to_id?: Record<string, number>;
  task_to_id?: Record<string, number>;
  max_length?: number;
  prev_sot_token_id?: number;
  /** [layer, head] pairs of cross-attention heads that follow the audio (word timestamps) */
  alignment_heads?: [number, number][];
}

export class WhisperVocab {
  /** `<|startoftranscript|>` */
  readonly sot: number;
  /** `<|endoftext|>` */
  readonly eot: number;
  readonly noTimestamps: number;
  /** `<|nocaptions|>` / `<|nospeech|>`: the token whose probability at the SOT position is the no-speech probability. */
  readonly noSpeech: number;
  /** First timestamp token (0.00 s). */
  readonly timestampBegin: number;
  readonly suppressTokens: readonly number[];
  readonly beginSuppressTokens: readonly number[];
  readonly maxInitialTimestampIndex: number;
  readonly isMultilingual: boolean;
  /** ISO 639-1 code → language token id (multilingual models only). */
  readonly languageTokens: ReadonlyMap<string, number>;
  readonly transcribe: number | null;
  readonly translate: number | null;
  /** Whisper's decoder context (n_text_ctx = 448 tokens). */
  readonly maxLength: number;
  /** `<|startofprev|>`: opens the previous-context prompt; null if the config does not name it */
  readonly startOfPrev: number | null;
  /**
   * Cross-attention heads for word timestamps, [layer, head] pairs from generation_config.json
   * `alignment_heads` (openai/whisper `_ALIGNMENT_HEADS`); empty when the config names none.
   */
  readonly alignmentHeads: readonly (readonly [number, number])[];

  constructor(gen: GenerationConfig) {
    this.sot = gen.decoder_start_token_id;
    this.eot = gen.eos_token_id;
    this.noTimestamps = gen.no_timestamps_token_id;
    // openai/whisper tokenizer.py: no_speech is the token just before <|notimestamps|> in both vocabularies.
    this.noSpeech = gen.no_timestamps_token_id - 1;
    this.timestampBegin = gen.no_timestamps_token_id + 1;
    this.suppressTokens = gen.suppress_tokens;
    this.beginSuppressTokens = gen.begin_suppress_tokens;
    this.maxInitialTimestampIndex = gen.max_initial_timestamp_index ?? 50;
    this.isMultilingual = gen.is_multilingual === true;
    const langs = new Map<string, number>();
    for (const [tok, id] of Object.entries(gen.lang_to_id ?? {})) {
      // keys look like "<|en|>"
      langs.set(tok.replace(/^<\|/, '').replace(/\|>$/, ''), id);
    }
    this.languageTokens = langs;
    this.transcribe = gen.task_to_id?.transcribe ?? null;
    this.translate = gen.task_to_id?.translate ?? null;
    this.maxLength = gen.max_length ?? 448;
    this.startOfPrev = gen.prev_sot_token_id ?? null;
    this.alignmentHeads = (gen.alignment_heads ?? []).map(([l, h]) => [l, h] as const);
  }

  /**
   * Most previous-context tokens a prompt keeps: openai/whisper decoding.py keeps the last
   * `n_ctx // 2 - 1` = 223 of them, leaving the other half of the 448-token context for the output.
   */
  get maxContextTokens(): number {
    return Math.floor(this.maxLength / 2) - 1;
  }

  /**
   * The previous-context part of a prompt: `<|startofprev|>` and the last `maxContextTokens` of the
   * given text tokens (decoding.py `_get_initial_tokens`); empty for no tokens.
   * @throws Error when the model's config names no `<|startofprev|>` token
   */
  contextPrefix(textTokens: readonly number[]): number[] {
    if (textTokens.length === 0) return [];
    if (this.startOfPrev === null) throw new Error('this model names no <|startofprev|> token; prompts are unsupported');
    return [this.startOfPrev, ...textTokens.slice(-this.maxContextTokens)];
  }

  isTimestamp(id: number): boolean {
    return id >= this.timestampBegin;
  }

  /** Language code for a language token id, or null. */
  languageOf(id: number): string | null {
    for (const [code, tid] of this.languageTokens) if (tid === id) return code;
    return null;
  }

  /**
   * The decoder prompt for one window: `<|startoftranscript|>` [+ language + task for multilingual models].
   * Timestamps are on, so no `<|notimestamps|>`.
   * @throws Error for a language the model does not know.
   */
  prompt(language: string | null, task: 'transcribe' | 'translate'): number[] {
    if (!this.isMultilingual) return [this.sot];
    const lang = this.languageTokens.get(language ?? 'en');
    if (lang === undefined) throw new Error(`language '${language}' is not supported by this model`);
    const taskId = task === 'translate' ? this.translate : this.transcribe;
    if (taskId === null) throw new Error('model has no task tokens');
    return [this.sot, lang, taskId];
  }
}
