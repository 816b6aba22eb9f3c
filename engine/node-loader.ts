/**
 * Loads a Whisper model folder (Hugging Face ONNX layout, as in WHISPER_MODELS_DIR) for onnxruntime-node.
 * Node-only; the browser has its own loader over the same WhisperModel/WhisperTranscriber.
 */
import * as fs from 'node:fs';
import * as path from 'node:path';
import * as zlib from 'node:zlib';
import * as ort from 'onnxruntime-node';
import { WhisperModel, type ModelSession } from './model';
import { createSyncSession, syncSessionFactory } from './ort-sync';
import { readFusedDecoder } from './step-graph-file';
import { WhisperTranscriber, type BatchingOptions } from './transcriber';
import { WhisperVocab, type GenerationConfig } from './vocab';
import { GRAPH_FILES, MODEL_FILES, dimsFromConfig, type Precision, type WhisperConfigJson } from './files';
import { chooseCpuGraphs, choosePrecision, ct2Graphs, defaultCpuPrecision, hasGraphs, perRowGraphs, type CpuPrecision } from './precision';

export interface LoadOptions {
  /** intra-op threads for the CPU execution provider */
  threads: number;
  /** 'cuda' tries the CUDA execution provider first and falls back to CPU with one warning */
  executionProvider: 'cpu' | 'cuda';
  /** called once with a warning, e.g. the CUDA fallback */
  warn?: (msg: string) => void;
  /** dynamic batching of concurrent windows; absent = one window per model run */
  batching?: BatchingOptions;
  /**
   * onnxruntime's intra-op threads busy-wait between ops by default (`session.intra_op.allow_spinning`
   * = "1"); false turns that off, leaving the cores to the activity worker's event loop between ops; 'during-run'
   * spins between the ops of a run and stops when it returns (`session.force_spinning_stop`: no busy-wait between runs).
   */
  allowSpinning?: boolean | 'during-run';
  /** which graphs of `modelDir` to load, overriding `cpuPrecision`; default: see `cpuPrecision` */
  precision?: Precision;
  /**
   * CPU execution provider, shipped weights, no `precision`: the graphs to run (WHISPER_CPU_PRECISION;
   * docs/models.md "fp32 on the CPU"). Ignored for CUDA (fp16, else fp32: {@link choosePrecision}).
   * Absent: the model's default (engine/precision.ts defaultCpuPrecision, config/models.json; base 'fp32-encoder', tiny.en 'int8').
   * - 'int8': the shipped int8 graphs, as `int8Activations` says (default one window per model run): faster
   *   per window than fp32 at every batch size measured on 2 cores, and half the memory (docs/models.md);
   * - 'fp32-encoder': the fp32 encoder of 'fp32' with the shipped int8 decoder, one window per model run (the decoder
   *   still quantises activations per tensor); missing fp32 graphs fall back as for 'fp32';
   * - 'fp32' (opt-in): the shipped weights dequantised to fp32 (engine/precision.ts floatGraphs: `modelDir`'s own fp32 graphs,
   *   else the checked ones of infra/models/float-models.sh), batched as `batching` says: float arithmetic never
   *   mixes batch rows, so a window's text does not depend on its batchmates. At least as accurate as the int8
   *   graphs on every row of the long-form WER set (docs/models.md). When they are missing or stale: one `warn`
   *   naming the reason and the command that builds them, and the int8 graphs as `int8Activations` says.
   */
  cpuPrecision?: CpuPrecision;
  /**
   * int8 only; how a window is kept independent of the windows batched with it (docs/models.md). The shipped graphs
   * quantise activations with one scale per batched tensor, so batching them makes a window's text depend on its
   * batchmates.
   * - 'unbatched' (default): the shipped graphs, one window per model run (batching off whatever `batching` says):
   *   batch-independent with the shipped accuracy, at the cost of batching's throughput gain;
   * - 'per-row': the graphs infra/models/per-row-models.sh derives (per-token activation scales), batched; when they
   *   are missing or stale, 'unbatched' with a `warn`. Opt-in: measured 1.9x (batch 1) to 3.3x (batch 8) slower
   *   than the shipped graphs on onnxruntime-node 1.30, and one longform window lost most of its text;
   * - 'per-tensor': the shipped graphs batched as configured (the old behaviour; benchmarks and the bug's test).
   */
  int8Activations?: 'unbatched' | 'per-row' | 'per-tensor';
  /**
   * Which weights the graphs hold (docs/models.md "Weights"):
   * - 'shipped' (default): the graphs in `modelDir` (int8 quantised with one scale per weight tensor);
   * - 'ct2': the graphs infra/models/ct2-models.sh rebuilt from the original CTranslate2 weights, of `precision`
   *   ('int8': one scale per output channel; 'fp32': the weights exactly); when they are missing or stale, the
   *   shipped graphs with a `warn`. `precision` may then be 'fp32' although `modelDir` holds only int8 graphs.
   *   The int8 ones quantise activations per tensor like the shipped ones, so `int8Activations` 'unbatched' applies
   *   to them ('per-row' is not built for them and means 'unbatched'); fp32 is batch-independent and batches.
   */
  weights?: 'shipped' | 'ct2';
}
function readJson<T>(dir: string, name: string): T {
  return JSON.parse(fs.readFileSync(path.join(dir, name), 'utf8')) as T;
}

/**
 * Graph optimization level for the per-row int8 graphs: onnxruntime-node 1.30's extended-level fusion of
 * MatMulInteger → Cast → Mul into MatMulIntegerToFloat mishandles a per-row activation scale (relative error against
 * the fp32 graph 1.39 for the tiny.en encoder, 0.99 for the decoder's logits; 0.096 and 0.034 at 'basic', where the
 * shipped graphs measure 0.137 and 0.036). docs/models.md.
 */
const PER_ROW_OPTIMIZATION_LEVEL = 'basic';

async function createSession(file: string | Uint8Array, opts: LoadOptions, level: 'basic' | 'all' = 'all'): Promise<ModelSession> {
  const cpu: ort.InferenceSession.SessionOptions = {
    executionProviders: ['cpu'],
    intraOpNumThreads: opts.threads,
    interOpNumThreads: 1,
    graphOptimizationLevel: level,
    ...(opts.allowSpinning === false
      ? { extra: { session: { intra_op: { allow_spinning: '0' }, inter_op: { allow_spinning: '0' } } } }
      : opts.allowSpinning === 'during-run'
        ? { extra: { session: { force_spinning_stop: '1' } } }
        : {}),
  };
  if (opts.executionProvider === 'cuda') {
    try {
      // ORT logs the failed provider load itself at error level; our one warning below says it better.
      const cuda = { ...cpu, executionProviders: ['cuda'], logSeverityLevel: 4 as const };
      return await createSyncSession(file, cuda, opts.warn);
    } catch (err) {
      opts.warn?.(
        `CUDA execution provider unavailable for ${typeof file === 'string' ? path.basename(file) : 'the decoder'} (${(err as Error).message.split('\n')[0]}); using CPU`,
      );
    }
  }
  return createSyncSession(file, cpu, opts.warn);
}

/**
 * Loads encoder, merged decoder (of `opts.precision`; default on the CPU `opts.cpuPrecision`, else the model's default
 * from config/models.json, found by {@link chooseCpuGraphs}; on CUDA {@link choosePrecision}), tokenizer and
 * generation config from `modelDir`.
 * @throws Error naming the missing file when the folder is incomplete; Int8OnCudaError for CUDA on int8 graphs
 */
export async function loadWhisper(modelDir: string, opts: LoadOptions): Promise<WhisperTranscriber> {
  let precision: Precision;
  /** graph files outside `modelDir` (float-models.sh's fp32, ct2-models.sh's rebuilds) */
  let rebuilt: { encoder: string; decoder: string } | null = null;
  if (!opts.precision && opts.executionProvider === 'cpu' && opts.weights !== 'ct2') {
    const unbatched = (opts.int8Activations ?? 'unbatched') === 'unbatched';
    const chosen = chooseCpuGraphs(modelDir, opts.cpuPrecision ?? defaultCpuPrecision(modelDir), unbatched ? ', one window per model run' : '');
    if (chosen.warning) opts.warn?.(chosen.warning);
    precision = chosen.precision;
    rebuilt = chosen.files;
  } else {
    precision = opts.precision ?? choosePrecision(modelDir, opts.executionProvider);
  }
  if (opts.weights === 'ct2') {
    const found = ct2Graphs(modelDir, precision);
    if ('missing' in found) {
      opts.warn?.(`CTranslate2-weight graphs unavailable for ${path.basename(modelDir)}: ${found.missing}; using the shipped graphs`);
      if (!hasGraphs(modelDir, precision)) precision = choosePrecision(modelDir, opts.executionProvider);
    } else {
      rebuilt = found;
    }
  }
  const graphs = GRAPH_FILES[precision];
  for (const f of [...(rebuilt ? [] : [graphs.encoder, graphs.decoder]), ...MODEL_FILES.filter((f) => !f.startsWith('onnx/'))]) {
    if (!fs.existsSync(path.join(modelDir, f))) throw new Error(`model folder ${modelDir} lacks ${f}`);
  }
  let encoderFile = rebuilt?.encoder ?? path.join(modelDir, graphs.encoder);
  let decoderFile = rebuilt?.decoder ?? path.join(modelDir, graphs.decoder);
  let batching = opts.batching;
  let level: 'basic' | 'all' = 'all';
  const mode = opts.int8Activations ?? 'unbatched';
  if (precision === 'int8' && rebuilt && mode !== 'per-tensor') {
    // an int8 decoder from elsewhere (ct2-int8: per-channel weights; 'fp32-encoder': the shipped decoder after an fp32
    // encoder) still quantises activations per tensor: batch-dependent like the shipped graphs
    batching = undefined;
  } else if (precision === 'int8' && mode === 'unbatched') {
    // The shipped graphs scale activations per batched tensor: batching would make a window's text depend on
    // other jobs' audio. One window per run keeps every window's text its own, at batching's throughput cost.
    batching = undefined;
  } else if (precision === 'int8' && mode === 'per-row') {
    const derived = perRowGraphs(modelDir);
    if ('missing' in derived) {
      if (batching && batching.maxBatch > 1) {
        opts.warn?.(`batch-independent int8 graphs unavailable for ${path.basename(modelDir)}: ${derived.missing}; running one window per model run`);
        batching = undefined;
      }
    } else {
      encoderFile = derived.encoder;
      decoderFile = derived.decoder;
      level = PER_ROW_OPTIMIZATION_LEVEL;
    }
  }
  const config = readJson<WhisperConfigJson>(modelDir, 'config.json');
  const gen = readJson<GenerationConfig>(modelDir, 'generation_config.json');
  // ESM-only typings; the package also ships a CommonJS build, which a dynamic import resolves under tsx and Jest.
  const { Tokenizer } = await import('@huggingface/tokenizers');
  const tokenizer = new Tokenizer(readJson(modelDir, 'tokenizer.json'), readJson(modelDir, 'tokenizer_config.json'));
  const vocab = new WhisperVocab(gen);
  const dims = dimsFromConfig(config);
  const [encoder, decoder] = await Promise.all([
    createSession(encoderFile, opts, level),
    // the decoder with the decoding rules and the greedy pick appended (step-graph.ts): one run per token
    createSession(readFusedDecoder(decoderFile, vocab.timestampBegin, dims.layers), opts, level),
  ]);
  // engine/ort-sync.ts: sessions without the public API's setImmediate per run (this runs on the engine thread)
  const model = new WhisperModel({ Tensor: ort.Tensor, InferenceSession: syncSessionFactory(opts.warn) }, encoder, decoder, vocab, dims);
  // Python's zlib.compress (openai's compression_ratio) and Node's deflateSync both write a zlib stream
  // at level 6 with the same library, so the ratio is Whisper's own.
  return new WhisperTranscriber(model, tokenizer, batching, { deflatedLength: (b) => zlib.deflateSync(b).length });
}
