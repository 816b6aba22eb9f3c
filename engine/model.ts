/**
 * The Whisper ONNX model: encoder + merged KV-cache decoder (optimum's `decoder_model_merged`),
 * and a batched greedy decode in which every row stops on its own end token.
 * Takes the onnxruntime module as a parameter so the same code runs on onnxruntime-node and
 * onnxruntime-web. Interface of the files: optimum's Whisper export (`encoder_model`: input_features →
 * last_hidden_state; `decoder_model_merged`: input_ids, encoder_hidden_states, past_key_values.*,
 * use_cache_branch → logits, present.*), plus the `cross_attentions.{l}` outputs used for word timestamps, and, when
 * the decoder was made from step-graph.ts fusedDecoderBytes (node-loader.ts and the browser worker do), the step graph:
 * suppress_mask → token, logprob, the decoding rules and greedy pick inside the decoder's own run.
 */
import type * as OrtCommon from 'onnxruntime-common';
import { N_FRAMES, N_MELS } from './constants';
import { applyDecodingRules, greedyPick, logSoftmax, samplePick, suppressionKey, suppressionMask, suppressionMaskBase } from './decoding';
import { textTokenProbModelBytes } from './pick';
import { Float32Pool, SelfAttentionCache } from './kv-cache';
import { NO_MASK_DIMS, STEP_LOGPROB, STEP_TOKEN, SUPPRESS_MASK, stepKvName } from './step-graph';
import type { WhisperVocab } from './vocab';

/**
 * The part of an onnxruntime `InferenceSession` the engine uses: onnxruntime-web's and onnxruntime-node's own, or
 * engine/ort-sync.ts's synchronous one over onnxruntime-node's binding.
 */
export interface ModelSession {
  readonly inputNames: readonly string[];
  readonly outputNames: readonly string[];
  run(feeds: OrtCommon.InferenceSession.FeedsType, fetches?: OrtCommon.InferenceSession.FetchesType): Promise<OrtCommon.InferenceSession.ReturnType>;
  release(): Promise<void>;
}

/** Makes a session from graph bytes (pick.ts's small graphs): `InferenceSession` itself or engine/ort-sync.ts's. */
export interface SessionFactory {
  create(model: Uint8Array, options?: OrtCommon.InferenceSession.SessionOptions): Promise<ModelSession>;
}

/** The parts of an onnxruntime module the engine uses (onnxruntime-node or onnxruntime-web). */
export interface OrtModule {
  Tensor: typeof OrtCommon.Tensor;
  InferenceSession: SessionFactory;
}

/** Shapes read from the model's config.json. */
export interface WhisperDims {
  /** d_model: 384 tiny, 512 base */
  dModel: number;
  /** decoder attention heads */
  heads: number;
  /** decoder layers */
  layers: number;
  vocabSize: number;
}

export interface DecodeOptions {
  /** Maximum tokens to sample per window (openai: n_text_ctx // 2 = 224). */
  maxNewTokens?: number;
  /** per row: 0 = greedy (default), > 0 = sampling at that temperature (needs `random`) */
  temperatures?: readonly number[];
  /** per row: uniform [0, 1) draws for sampling; seeded, so a retry samples the same tokens */
  random?: readonly (() => number)[];
}

/** One row's greedy decoding result for one 30 s window. */
export interface DecodedRow {
  /** Sampled ids, EOT excluded. */
  tokens: number[];
  /** Sum of the log-probabilities of the sampled tokens (EOT included), after the decoding rules. */
  sumLogprob: number;
  /** openai: sum_logprob / (len(tokens) + 1). */
  avgLogprob: number;
  /** Probability of the no-speech token at the SOT position. */
  noSpeechProb: number;
}

const HEAD_DIM = 64;
/** openai/whisper decoding.py: sample_len defaults to n_text_ctx // 2. */
const DEFAULT_MAX_NEW_TOKENS = 224;

export class WhisperModel {
  constructor(
    private readonly ort: OrtModule,
    private readonly encoder: ModelSession,
    private readonly decoder: ModelSession,
    readonly vocab: WhisperVocab,
    readonly dims: WhisperDims,
  ) {}

  /**
   * Runs the encoder on a batch of log-mel windows.
   * @param features float32 [batch, 80, 3000], row-major, batch windows back to back
   * @returns encoder hidden states, float32 tensor [batch, 1500, d_model]
   */
  async encode(features: Float32Array, batch: number): Promise<OrtCommon.Tensor> {
    if (features.length !== batch * N_MELS * N_FRAMES) {
      throw new Error(`encode: expected ${batch}×${N_MELS}×${N_FRAMES} features, got ${features.length}`);
    }
    const input = new this.ort.Tensor('float32', features, [batch, N_MELS, N_FRAMES]);
    const out = await this.encoder.run({ input_features: input });
    return out.last_hidden_state;
  }

  /**
   * Some rows of a batch's encoder output, for decoding a subset again (temperature fallback) or in
   * groups of one prompt length.
   * @param encoderHidden [batch, 1500, d_model]
   * @returns [rows.length, 1500, d_model]; the same tensor when every row is taken in order
   */
  selectRows(encoderHidden: OrtCommon.Tensor, rows: readonly number[]): OrtCommon.Tensor {
    const [batch, positions, dim] = encoderHidden.dims;
    if (rows.length === batch && rows.every((r, i) => r === i)) return encoderHidden;
    const data = encoderHidden.data as Float32Array;
    const per = positions * dim;
    const out = new Float32Array(rows.length * per);
    rows.forEach((r, i) => out.set(data.subarray(r * per, (r + 1) * per), i * per));
    return new this.ort.Tensor('float32', out, [rows.length, positions, dim]);
  }

  /**
   * Greedy decoding with the KV cache for a batch of windows that share one prompt length.
   * Finished rows stay in the batch and are fed EOT (masked), so the caches keep one shape;
   * their results are frozen at their own end token.
   *
   * @param encoderHidden [batch, 1500, d_model] from `encode`
   * @param prompts       one prompt per row, all the same length ([<|startofprev|> + context] SOT [+ language, task])
   * @throws Error if the prompts differ in length, or a row samples without a random source
   */
  async decode(
    encoderHidden: OrtCommon.Tensor,
    prompts: number[][],
    opts: DecodeOptions = {},
  ): Promise<DecodedRow[]> {
    const { Tensor } = this.ort;
    const batch = prompts.length;
    const promptLen = prompts[0].length;
    if (prompts.some((p) => p.length !== promptLen)) throw new Error('decode: prompts must share one length');
    const vocabSize = this.dims.vocabSize;
    const maxNew = Math.min(opts.maxNewTokens ?? DEFAULT_MAX_NEW_TOKENS, this.vocab.maxLength - promptLen);
    const eot = this.vocab.eot;
    const temperatures = opts.temperatures ?? prompts.map(() => 0);
    temperatures.forEach((t, b) => {
      if (t > 0 && !opts.random?.[b]) throw new Error('decode: sampling needs a random source per row');
    });
    // The no-speech probability is read at the <|startoftranscript|> position, after any context prompt.
    const sotIndex = prompts.map((p) => p.lastIndexOf(this.vocab.sot));

    const rows = prompts.map(() => ({ tokens: [] as number[], sumLogprob: 0, done: false, noSpeechProb: 0, maskKey: NaN }));
    const scratch = new Float32Array(vocabSize);
    // A decoder with the step graph (step-graph.ts) applies the rules and picks greedy rows' tokens inside its own run,
    // from a suppression mask fed per row; rows sampling at a temperature (and every row on a plain decoder) take the
    // logits row into JS for the rules and the sampler (greedyPick on a plain decoder).
    const fused = this.fused;
    const mask = fused ? new Float32Array(batch * vocabSize) : null;
    const maskTensor = mask ? new Tensor('float32', mask, [batch, vocabSize]) : null; // rows rewritten in place
    const maskBase = fused ? this.maskBase() : null;
    // the last position's logits of every row, when the run had more than one position (the prompt step)
    let lastRows: Float32Array | null = null;

    const pastNames: string[] = [];
    for (let l = 0; l < this.dims.layers; l++) {
      for (const kind of ['decoder', 'encoder'])
        for (const kv of ['key', 'value']) pastNames.push(`past_key_values.${l}.${kind}.${kv}`);
    }
    const presentNames = pastNames.map((n) => n.replace('past_key_values', 'present'));
    const emptyPast = new Tensor('float32', new Float32Array(0), [batch, this.dims.heads, 0, HEAD_DIM]);
    const past: Record<string, OrtCommon.Tensor> = {};
    for (const name of pastNames) past[name] = emptyPast;

    // After the first step the merged decoder still outputs the (unchanged) cross-attention cache;
    // fetching it would copy L × 2 × [batch, heads, 1500, 64] floats out of onnxruntime per token.
    const selfAttention = pastNames.map((n, i) => i).filter((i) => pastNames[i].includes('.decoder.'));
    const selfAttentionCaches = selfAttention.map((i) => presentNames[i]);
    // The first step needs every cache and the logits (the no-speech probability at the SOT position); naming
    // the outputs keeps onnxruntime from also copying out the decoder's `cross_attentions.{l}` (only the
    // word-timestamp pass reads them).
    // A step graph with the caches' last positions (step-graph.ts stepKvName): cached steps fetch only the new token's
    // key and value per cache and kv-cache.ts lays the next past out in reused buffers; onnxruntime-node's copy of every
    // whole present.* per step (a new ArrayBuffer each) is what started the engine thread's collections.
    const kvCache = this.stepKv
      ? new SelfAttentionCache(selfAttention.length, batch * this.dims.heads, HEAD_DIM, this.kvPool)
      : null;
    const lastOutputs = selfAttentionCaches.map(stepKvName);
    const noCache = new Tensor('bool', new Uint8Array([0]), [1]);
    const withCache = new Tensor('bool', new Uint8Array([1]), [1]);
    // The cache branch reads the cross-attention K/V from the past inputs, never encoder_hidden_states; but the
    // int8 decoders quantise that input at the top level on every run (a DynamicQuantizeLinear before the If,
    // whose output only the no-cache branch reads): [batch, 1500, d_model] floats scanned and quantised per token
    // for nothing. Cached steps get one position of zeros instead; the outputs cannot change (the branch taken
    // never reads it), which the bit-identity checks of this change confirmed.
    const placeholderHidden = new Tensor('float32', new Float32Array(batch * this.dims.dModel), [batch, 1, this.dims.dModel]);

    let ids = new BigInt64Array(batch * promptLen);
    prompts.forEach((p, b) => p.forEach((t, i) => (ids[b * promptLen + i] = BigInt(t))));
    let stepLen = promptLen;

    try {
      for (let step = 0; step < maxNew; step++) {
        const first = step === 0;
        const feeds: Record<string, OrtCommon.Tensor> = {
          input_ids: new Tensor('int64', ids, [batch, stepLen]),
          encoder_hidden_states: first ? encoderHidden : placeholderHidden,
          use_cache_branch: first ? noCache : withCache,
          ...past,
        };
        // the rows whose logits JS reads this step
        const inJs = rows.map((r, b) => !r.done && (!fused || temperatures[b] > 0));
        const jsRows = inJs.some((x) => x);
        if (mask) {
          rows.forEach((r, b) => {
            if (r.done) return;
            const k = suppressionKey(r.tokens, this.vocab);
            if (k !== r.maskKey) suppressionMask(mask.subarray(b * vocabSize, (b + 1) * vocabSize), r.tokens, this.vocab, maskBase!);
            r.maskKey = k;
          });
          feeds[SUPPRESS_MASK] = maskTensor!;
        }
        const caches = first ? presentNames : kvCache ? lastOutputs : selfAttentionCaches;
        // the step graph's pick instead of the logits, unless JS reads a row (the no-speech probability, a sampling row)
        const fetches = fused ? [...(first || jsRows ? ['logits'] : []), STEP_TOKEN, STEP_LOGPROB, ...caches] : ['logits', ...caches];
        const out = await this.decoder.run(feeds, fetches);

        // The encoder (cross-attention) cache is computed once on the first step and reused.
        if (first) pastNames.forEach((name, i) => (past[name] = out[presentNames[i]]));
        if (kvCache) {
          if (first) kvCache.load(selfAttentionCaches.map((name) => out[name].data as Float32Array), stepLen);
          else kvCache.append(lastOutputs.map((name) => out[name].data as Float32Array));
          const dims = [batch, this.dims.heads, kvCache.length, HEAD_DIM];
          selfAttention.forEach((i, k) => (past[pastNames[i]] = new Tensor('float32', kvCache.view(k), dims)));
        } else if (!first) for (const i of selfAttention) past[pastNames[i]] = out[presentNames[i]];

        // [batch, vocab]: the last position of every row, processed in place by the decoding rules (rows read in JS)
        // [batch, stepLen, vocab], ours: a fresh copy per run; not fetched on a cached step whose rows are all picked in-graph
        const logits = (out.logits?.data ?? scratch) as Float32Array;
        let last = logits;
        if (stepLen > 1 && jsRows) {
          lastRows ??= new Float32Array(batch * vocabSize);
          for (let b = 0; b < batch; b++) {
            const off = (b * stepLen + (stepLen - 1)) * vocabSize;
            lastRows.set(logits.subarray(off, off + vocabSize), b * vocabSize);
          }
          last = lastRows;
        }
        for (let b = 0; b < batch; b++) {
          const row = rows[b];
          if (first) {
            // no-speech probability at the SOT position (openai decoding.py: probs_at_sot), before any rule
            const sotOffset = (b * stepLen + sotIndex[b]) * vocabSize;
            logSoftmax(logits.subarray(sotOffset, sotOffset + vocabSize), scratch);
            row.noSpeechProb = Math.exp(scratch[this.vocab.noSpeech]);
          }
          if (inJs[b]) applyDecodingRules(last.subarray(b * vocabSize, (b + 1) * vocabSize), row.tokens, this.vocab);
        }
        const picked = fused ? { token: out[STEP_TOKEN].data as BigInt64Array, logprob: out[STEP_LOGPROB].data as Float32Array } : null;

        const next = new BigInt64Array(batch);
        for (let b = 0; b < batch; b++) {
          const row = rows[b];
          if (row.done) {
            next[b] = BigInt(eot);
            continue;
          }
          const t = temperatures[b];
          let tok: number;
          let logprob: number;
          if (t > 0) ({ token: tok, logprob } = samplePick(last.subarray(b * vocabSize, (b + 1) * vocabSize), t, opts.random![b]()));
          else if (!picked) ({ token: tok, logprob } = greedyPick(last.subarray(b * vocabSize, (b + 1) * vocabSize)));
          else {
            tok = Number(picked.token[b]);
            logprob = picked.logprob[b];
          }
          row.sumLogprob += logprob;
          if (tok === eot) row.done = true;
          else row.tokens.push(tok);
          next[b] = BigInt(tok);
        }
        if (rows.every((r) => r.done)) break;
        ids = next;
        stepLen = 1;
      }
    } finally {
      kvCache?.release();
    }
    return rows.map((r) => ({
      tokens: r.tokens,
      sumLogprob: r.sumLogprob,
      avgLogprob: r.sumLogprob / (r.tokens.length + 1),
      noSpeechProb: r.noSpeechProb,
    }));
  }

  /**
   * Language identification as openai/whisper `detect_language`: one decoder pass over `<|startoftranscript|>`
   * and a softmax restricted to the language tokens.
   * @param encoderHidden [batch, 1500, d_model]
   * @returns per row, the most likely ISO 639-1 code and its probability
   * @throws Error on an English-only model
   */
  async detectLanguage(encoderHidden: OrtCommon.Tensor): Promise<{ language: string; probability: number }[]> {
    if (!this.vocab.isMultilingual) throw new Error('detectLanguage: the model is English-only');
    const { Tensor } = this.ort;
    const batch = encoderHidden.dims[0];
    const emptyPast = new Tensor('float32', new Float32Array(0), [batch, this.dims.heads, 0, HEAD_DIM]);
    const feeds: Record<string, OrtCommon.Tensor> = {
      input_ids: new Tensor('int64', new BigInt64Array(batch).fill(BigInt(this.vocab.sot)), [batch, 1]),
      encoder_hidden_states: encoderHidden,
      use_cache_branch: new Tensor('bool', new Uint8Array([0]), [1]),
      ...this.noMask(),
    };
    for (let l = 0; l < this.dims.layers; l++)
      for (const kind of ['decoder', 'encoder'])
        for (const kv of ['key', 'value']) feeds[`past_key_values.${l}.${kind}.${kv}`] = emptyPast;
    const out = await this.decoder.run(feeds, ['logits']);
    const logits = out.logits.data as Float32Array;
    const vocabSize = this.dims.vocabSize;
    const results: { language: string; probability: number }[] = [];
    for (let b = 0; b < batch; b++) {
      const row = logits.subarray(b * vocabSize, (b + 1) * vocabSize);
      let max = -Infinity;
      for (const id of this.vocab.languageTokens.values()) max = Math.max(max, row[id]);
      let sum = 0;
      let best = '';
      let bestLogit = -Infinity;
      for (const [code, id] of this.vocab.languageTokens) {
        sum += Math.exp(row[id] - max);
        if (row[id] > bestLogit) {
          bestLogit = row[id];
          best = code;
        }
      }
      results.push({ language: best, probability: Math.exp(bestLogit - max) / sum });
    }
    return results;
  }

  /**
   * The word-timestamp pass of openai/whisper timing.py `find_alignment`: one decoder run without the
   * KV cache over [SOT sequence, <|notimestamps|>, text tokens, EOT] per row, fetching `logits` and only
   * the `cross_attentions.{l}` outputs of the alignment heads' layers (each layer's cross-attention softmax,
   * [batch, heads, tokens, 1500], an output added to the int8 decoders). Rows of different lengths share the run, padded on
   * the right with EOT: the decoder's self-attention is causal, so padding never changes earlier
   * positions, and only each row's own positions are read back.
   * @param encoderHidden [rows.length, 1500, d_model]
   * @param rows          per row: its SOT sequence (no context prompt) and its text tokens (ids < EOT)
   * @param heads         alignment heads as [layer, head] pairs (generation_config.json `alignment_heads`)
   * @returns per row: one float32 [tokenCount, 1500] matrix per head (post-softmax cross-attention), the
   *   row's tokenCount, and each text token's probability (softmax over ids < EOT at the position that
   *   predicts it, as find_alignment's `text_token_probs`)
   * @throws Error when the decoder lacks `cross_attentions.{l}` outputs or a head is out of range
   */
  async alignmentPass(
    encoderHidden: OrtCommon.Tensor,
    rows: readonly { sotSequence: readonly number[]; textTokens: readonly number[] }[],
    heads: readonly (readonly [number, number])[],
  ): Promise<{ heads: Float32Array[]; tokenCount: number; textTokenProbs: number[] }[]> {
    const { Tensor } = this.ort;
    const batch = rows.length;
    if (encoderHidden.dims[0] !== batch) throw new Error('alignmentPass: one encoder row per alignment row');
    const layers = [...new Set(heads.map(([l]) => l))].sort((a, b) => a - b);
    for (const [l, h] of heads) {
      if (l < 0 || l >= this.dims.layers || h < 0 || h >= this.dims.heads) throw new Error(`alignmentPass: no head [${l}, ${h}]`);
    }
    const missing = layers.map((l) => `cross_attentions.${l}`).filter((n) => !this.decoder.outputNames.includes(n));
    if (missing.length > 0) throw new Error(`alignmentPass: the decoder has no ${missing.join(', ')} output: word timestamps need a decoder with the cross_attentions.{l} outputs`);
    const eot = this.vocab.eot;
    const seqs = rows.map((r) => [...r.sotSequence, this.vocab.noTimestamps, ...r.textTokens, eot]);
    const len = Math.max(...seqs.map((s) => s.length));
    const ids = new BigInt64Array(batch * len).fill(BigInt(eot));
    seqs.forEach((s, b) => s.forEach((t, i) => (ids[b * len + i] = BigInt(t))));
    const emptyPast = new Tensor('float32', new Float32Array(0), [batch, this.dims.heads, 0, HEAD_DIM]);
    const feeds: Record<string, OrtCommon.Tensor> = {
      input_ids: new Tensor('int64', ids, [batch, len]),
      encoder_hidden_states: encoderHidden,
      use_cache_branch: new Tensor('bool', new Uint8Array([0]), [1]),
      ...this.noMask(),
    };
    for (let l = 0; l < this.dims.layers; l++)
      for (const kind of ['decoder', 'encoder'])
        for (const kv of ['key', 'value']) feeds[`past_key_values.${l}.${kind}.${kv}`] = emptyPast;
    const out = await this.decoder.run(feeds, ['logits', ...layers.map((l) => `cross_attentions.${l}`)]);
    const logits = out.logits.data as Float32Array; // [batch, len, vocab]
    const vocabSize = this.dims.vocabSize;
    // find_alignment's text_token_probs: softmax over ids < EOT at the position before each text token, float32
    // as openai's torch softmax, every row's text positions in one run of a small graph (pick.ts
    // textTokenProbModelBytes: Softmax + GatherElements). A JS exp per vocabulary entry cost as much as the decoder
    // pass on a 30 s window; the pick graph's full log-probability output nearly as much to copy back; a
    // ReduceLogSumExp graph (scalar exp) 50 ms per 90 tokens where Softmax's vectorised one takes 5.
    const textCount = rows.reduce((n, r) => n + r.textTokens.length, 0);
    const textLogits = new Float32Array(textCount * eot);
    const textIds = new BigInt64Array(textCount);
    let k = 0;
    rows.forEach((r, b) => {
      for (let j = 0; j < r.textTokens.length; j++, k++) {
        const o = (b * len + r.sotSequence.length + j) * vocabSize;
        textLogits.set(logits.subarray(o, o + eot), k * eot);
        textIds[k] = BigInt(r.textTokens[j]);
      }
    });
    const probSession = await this.textTokenProb();
    const probs = (
      await probSession.run({
        logits: new Tensor('float32', textLogits, [textCount, eot]),
        tokens: new Tensor('int64', textIds, [textCount, 1]),
      })
    ).prob.data as Float32Array;
    k = 0;
    const textTokenProbs = rows.map((r) => r.textTokens.map(() => probs[k++]));
    return rows.map((r, b) => {
      const T = seqs[b].length;
      const perHead: Float32Array[] = heads.map(([l, h]) => {
        const ca = out[`cross_attentions.${l}`];
        const [, H, Tall, P] = ca.dims;
        const data = ca.data as Float32Array; // [batch, H, len, P]
        const off = ((b * H + h) * Tall) * P;
        return data.subarray(off, off + T * P); // a view: findAlignment only reads it
      });
      return { heads: perHead, tokenCount: T, textTokenProbs: textTokenProbs[b] };
    });
  }

  /** Frees the ONNX sessions. */
  async release(): Promise<void> {
    const prob = this.probSession;
    this.probSession = null;
    await Promise.all([this.encoder.release(), this.decoder.release(), prob?.then((s) => s.release(), () => undefined)]);
  }

  /** Whether the decoder carries the step graph (step-graph.ts: made by fusedDecoderBytes), read from its inputs. */
  private get fused(): boolean {
    return this.decoder.inputNames.includes(SUPPRESS_MASK);
  }

  /**
   * The step graph's input for runs that read only the decoder's own outputs (detectLanguage, alignmentPass):
   * onnxruntime runs every node whatever the fetches, so the input must be fed; a [1, 1] zero broadcasts.
   */
  private noMask(): Record<string, OrtCommon.Tensor> {
    return this.fused ? { [SUPPRESS_MASK]: new this.ort.Tensor('float32', new Float32Array(1), [...NO_MASK_DIMS]) } : {};
  }

  /** Whether the step graph also outputs the self-attention caches' last positions (step-graph.ts stepKvName). */
  private get stepKv(): boolean {
    return this.fused && this.decoder.outputNames.includes(stepKvName('present.0.decoder.key'));
  }

  /** kv-cache.ts buffers, reused by every decode of this model. */
  private readonly kvPool = new Float32Pool();

  private maskBaseRow: Float32Array | null = null;

  /** decoding.ts suppressionMaskBase of this model's vocabulary, made once. */
  private maskBase(): Float32Array {
    this.maskBaseRow ??= suppressionMaskBase(this.vocab, this.dims.vocabSize);
    return this.maskBaseRow;
  }

  private probSession: Promise<ModelSession> | null = null;

  /** The text-token probability graph (pick.ts textTokenProbModelBytes) of the word-timestamp pass, made on first use. */
  private textTokenProb(): Promise<ModelSession> {
    this.probSession ??= this.ort.InferenceSession.create(textTokenProbModelBytes(), {
      intraOpNumThreads: 1,
      interOpNumThreads: 1,
      graphOptimizationLevel: 'all',
    });
    return this.probSession;
  }
}
