/**
 * Loads a Whisper model folder (Hugging Face ONNX layout, as in WHISPER_MODELS_DIR) for onnxruntime-node.
 * Node-only; the browser has its own loader over the same WhisperModel/WhisperTranscriber.
 */
import * as fs from 'node:fs';
import * as path from 'node:path';
import * as zlib from 'node:zlib';
import * as ort from 'onnxruntime-node';
import { WhisperModel } from './model';
import { WhisperTranscriber, type BatchingOptions } from './transcriber';
import { WhisperVocab, type GenerationConfig } from './vocab';
import { GRAPH_FILES, MODEL_FILES, dimsFromConfig, type Precision, type WhisperConfigJson } from './files';
import { choosePrecision } from './precision';

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
   * = "1"); false turns that off, leaving the cores to the activity worker's event loop between ops.
   */
  allowSpinning?: boolean;
  /** which graphs to load; default {@link choosePrecision}'s pick for the execution provider */
  precision?: Precision;
}
function readJson<T>(dir: string, name: string): T {
  return JSON.parse(fs.readFileSync(path.join(dir, name), 'utf8')) as T;
}

async function createSession(file: string, opts: LoadOptions): Promise<ort.InferenceSession> {
  const cpu: ort.InferenceSession.SessionOptions = {
    executionProviders: ['cpu'],
    intraOpNumThreads: opts.threads,
    interOpNumThreads: 1,
    graphOptimizationLevel: 'all',
    ...(opts.allowSpinning === false
      ? { extra: { session: { intra_op: { allow_spinning: '0' }, inter_op: { allow_spinning: '0' } } } }
      : {}),
  };
  if (opts.executionProvider === 'cuda') {
    try {
      // ORT logs the failed provider load itself at error level; our one warning below says it better.
      return await ort.InferenceSession.create(file, { ...cpu, executionProviders: ['cuda'], logSeverityLevel: 4 });
    } catch (err) {
      opts.warn?.(
        `CUDA execution provider unavailable for ${path.basename(file)} (${(err as Error).message.split('\n')[0]}); using CPU`,
      );
    }
  }
  return ort.InferenceSession.create(file, cpu);
}

/**
 * Loads encoder, merged decoder (of `opts.precision`, default {@link choosePrecision}), tokenizer and
 * generation config from `modelDir`.
 * @throws Error naming the missing file when the folder is incomplete; Int8OnCudaError for CUDA on int8 graphs
 */
export async function loadWhisper(modelDir: string, opts: LoadOptions): Promise<WhisperTranscriber> {
  const precision = opts.precision ?? choosePrecision(modelDir, opts.executionProvider);
  const graphs = GRAPH_FILES[precision];
  for (const f of [graphs.encoder, graphs.decoder, ...MODEL_FILES.filter((f) => !f.startsWith('onnx/'))]) {
    if (!fs.existsSync(path.join(modelDir, f))) throw new Error(`model folder ${modelDir} lacks ${f}`);
  }
  const config = readJson<WhisperConfigJson>(modelDir, 'config.json');
  const gen = readJson<GenerationConfig>(modelDir, 'generation_config.json');
  // ESM-only typings; the package also ships a CommonJS build, which a dynamic import resolves under tsx and Jest.
  const { Tokenizer } = await import('@huggingface/tokenizers');
  const tokenizer = new Tokenizer(readJson(modelDir, 'tokenizer.json'), readJson(modelDir, 'tokenizer_config.json'));
  const [encoder, decoder] = await Promise.all([
    createSession(path.join(modelDir, graphs.encoder), opts),
    createSession(path.join(modelDir, graphs.decoder), opts),
  ]);
  const model = new WhisperModel(ort, encoder, decoder, new WhisperVocab(gen), dimsFromConfig(config));
  // Python's zlib.compress (openai's compression_ratio) and Node's deflateSync both write a zlib stream
  // at level 6 with the same library, so the ratio is Whisper's own.
  return new WhisperTranscriber(model, tokenizer, opts.batching, { deflatedLength: (b) => zlib.deflateSync(b).length });
}
