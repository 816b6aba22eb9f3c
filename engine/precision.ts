/**
 * Which graphs (int8, fp32, fp16) a model folder offers and which one a worker loads for its execution
 * provider. Node-only (reads the folder), no onnxruntime import, so the worker factory can check a GPU worker's
 * folders before it loads anything.
 */
import * as crypto from 'node:crypto';
import * as fs from 'node:fs';
import * as os from 'node:os';
import * as path from 'node:path';
import { GRAPH_FILES, type Precision } from './files';
import registry from '../config/models.json';

/**
 * Why an int8 folder cannot serve a CUDA worker: the quantized ops have no CUDA kernels in onnxruntime, so the
 * CUDA execution provider hands them to the CPU (or the whole graph falls back), and a GPU node would transcribe
 * at CPU speed while billed as a GPU. Raised instead of running silently on the CPU.
 */
export class Int8OnCudaError extends Error {
  constructor(modelDir: string) {
    super(
      `model folder ${modelDir} has only int8 graphs (${GRAPH_FILES.int8.encoder}, ${GRAPH_FILES.int8.decoder}), and CUDA was ` +
        `requested (WHISPER_EP=cuda): their MatMulInteger, ConvInteger and DynamicQuantizeLinear nodes have no CUDA kernels ` +
        `in onnxruntime, so the model would run on the CPU. Make float graphs beside them with ` +
        `\`python infra/models/dequantize.py --models-dir <dir>\` (${GRAPH_FILES.fp16.encoder} / ${GRAPH_FILES.fp32.encoder}), ` +
        `point WHISPER_MODELS_DIR at that folder, or run this worker with WHISPER_EP=cpu on a CPU queue.`,
    );
    this.name = 'Int8OnCudaError';
  }
}

/** True when both graphs of `precision` exist in `modelDir`. */
export function hasGraphs(modelDir: string, precision: Precision): boolean {
  const g = GRAPH_FILES[precision];
  return fs.existsSync(path.join(modelDir, g.encoder)) && fs.existsSync(path.join(modelDir, g.decoder));
}

/**
 * The graphs a worker finds in `modelDir` itself. CPU: int8 (the shipped files), else fp32; a CPU worker's
 * WHISPER_CPU_PRECISION=fp32 (opt-in) looks for fp32 beside the folder too ({@link floatGraphs},
 * engine/node-loader.ts). CUDA: fp16 when present (half the memory traffic; tensor cores), else fp32; int8 alone is refused
 * ({@link Int8OnCudaError}).
 * @throws Int8OnCudaError for CUDA with int8 graphs only; Error naming the files when there are none at all
 */
export function choosePrecision(modelDir: string, executionProvider: 'cpu' | 'cuda'): Precision {
  const order: Precision[] = executionProvider === 'cuda' ? ['fp16', 'fp32'] : ['int8', 'fp32'];
  const found = order.find((p) => hasGraphs(modelDir, p));
  if (found) return found;
  if (executionProvider === 'cuda' && hasGraphs(modelDir, 'int8')) throw new Int8OnCudaError(modelDir);
  throw new Error(`model folder ${modelDir} lacks ${GRAPH_FILES[order[0]!].encoder} and ${GRAPH_FILES[order[0]!].decoder}`);
}

/**
 * Where infra/models/per-row-models.sh writes the batch-independent int8 graphs: `FAIRSCRIBE_PER_ROW_MODELS`, else
 * `$FAIRSCRIBE_CACHE/models-per-row` (default `~/.cache/fairscribe/models-per-row`), one folder per model.
 */
export function perRowModelsRoot(env: NodeJS.ProcessEnv = process.env): string {
  return env.FAIRSCRIBE_PER_ROW_MODELS ?? path.join(env.FAIRSCRIBE_CACHE ?? path.join(os.homedir(), '.cache', 'fairscribe'), 'models-per-row');
}

/** The manifest infra/models/per_row_quant.py writes beside the graphs it derived. */
interface PerRowManifest {
  sources: Record<string, { sha256: string; bytes: number }>;
  graphs: Record<string, { sha256: string; bytes: number }>;
}

const verified = new Map<string, string>();

/** sha256 of a file, remembered per process for as long as its size and mtime stay the same. */
function sha256Of(file: string): string {
  const st = fs.statSync(file);
  const key = `${file}\0${st.size}\0${st.mtimeMs}`;
  const known = verified.get(key);
  if (known) return known;
  const hash = crypto.createHash('sha256');
  const fd = fs.openSync(file, 'r');
  try {
    const buf = Buffer.allocUnsafe(1 << 20);
    for (let n; (n = fs.readSync(fd, buf, 0, buf.length, null)) > 0; ) hash.update(buf.subarray(0, n));
  } finally {
    fs.closeSync(fd);
  }
  const hex = hash.digest('hex');
  verified.set(key, hex);
  return hex;
}

/**
 * The batch-independent int8 graphs derived from `modelDir`'s shipped int8 graphs, if they were built from exactly
 * these files. The shipped graphs quantise each activation with DynamicQuantizeLinear, one scale for the whole
 * tensor, batch included, so a batched window's text depends on its batchmates; the derived ones scale each
 * token (each batch item before a conv) on its own values (infra/models/per_row_quant.py, docs/models.md).
 *
 * @returns absolute paths of the derived encoder and decoder, or `{ missing }` saying why none can be used: not
 *   built, or built from other source files (sha256 of sources and of the derived files are checked against the
 *   folder's built-from.json; hashes are cached per process by size and mtime, ~0.2 s per model the first time)
 */
export function perRowGraphs(modelDir: string, root = perRowModelsRoot()): { encoder: string; decoder: string } | { missing: string } {
  const dir = path.join(root, path.basename(modelDir));
  const manifestFile = path.join(dir, 'built-from.json');
  if (!fs.existsSync(manifestFile)) return { missing: `${manifestFile} does not exist (run bash infra/models/per-row-models.sh)` };
  let manifest: PerRowManifest;
  try {
    manifest = JSON.parse(fs.readFileSync(manifestFile, 'utf8')) as PerRowManifest;
  } catch (err) {
    return { missing: `${manifestFile} is unreadable (${(err as Error).message})` };
  }
  const g = GRAPH_FILES.int8;
  for (const f of [g.encoder, g.decoder]) {
    const src = path.join(modelDir, f);
    const out = path.join(dir, f);
    if (!fs.existsSync(out) || !manifest.graphs?.[f]) return { missing: `${out} is missing` };
    if (manifest.sources?.[f]?.sha256 !== sha256Of(src)) return { missing: `${out} was built from another ${f} than ${src}'s (rebuild: bash infra/models/per-row-models.sh)` };
    if (manifest.graphs[f].sha256 !== sha256Of(out)) return { missing: `${out} does not match its manifest (rebuild: bash infra/models/per-row-models.sh)` };
  }
  return { encoder: path.join(dir, g.encoder), decoder: path.join(dir, g.decoder) };
}

/**
 * Where infra/models/ct2-models.sh writes the graphs rebuilt from the original CTranslate2 weights:
 * `FAIRSCRIBE_CT2_MODELS`, else `$FAIRSCRIBE_CACHE/models-ct2` (default `~/.cache/fairscribe/models-ct2`).
 */
export function ct2ModelsRoot(env: NodeJS.ProcessEnv = process.env): string {
  return env.FAIRSCRIBE_CT2_MODELS ?? path.join(env.FAIRSCRIBE_CACHE ?? path.join(os.homedir(), '.cache', 'fairscribe'), 'models-ct2');
}

/**
 * The graphs of `precision` that infra/models/ct2_graphs.py rebuilt from the original CTranslate2 float16 weights
 * of `modelDir`'s model (docs/models.md "Weights"): `fp32` holds those weights exactly; `int8` quantises them with
 * one scale per output channel (the shipped graphs: one per tensor). Used only when the folder's built-from.json
 * names the sha256 of `modelDir`'s shipped int8 graphs (the structure the rebuild starts from) and of the rebuilt
 * files themselves.
 * @returns absolute paths, or `{ missing }` saying why there are none (fp16 is not built; not built; stale)
 */
export function ct2Graphs(
  modelDir: string,
  precision: Precision,
  root = ct2ModelsRoot(),
): { encoder: string; decoder: string } | { missing: string } {
  if (precision === 'fp16') return { missing: 'no fp16 graphs are rebuilt from the CTranslate2 weights' };
  const dir = path.join(root, path.basename(modelDir));
  const manifestFile = path.join(dir, 'built-from.json');
  if (!fs.existsSync(manifestFile)) return { missing: `${manifestFile} does not exist (run bash infra/models/ct2-models.sh)` };
  let manifest: PerRowManifest;
  try {
    manifest = JSON.parse(fs.readFileSync(manifestFile, 'utf8')) as PerRowManifest;
  } catch (err) {
    return { missing: `${manifestFile} is unreadable (${(err as Error).message})` };
  }
  const shipped = GRAPH_FILES.int8;
  for (const f of [shipped.encoder, shipped.decoder]) {
    if (manifest.sources?.[f]?.sha256 !== sha256Of(path.join(modelDir, f))) {
      return { missing: `${dir} was built from another ${f} than ${modelDir}'s (rebuild: bash infra/models/ct2-models.sh)` };
    }
  }
  const g = GRAPH_FILES[precision];
  for (const f of [g.encoder, g.decoder]) {
    const out = path.join(dir, f);
    if (!fs.existsSync(out) || !manifest.graphs?.[f]) return { missing: `${out} is missing` };
    if (manifest.graphs[f].sha256 !== sha256Of(out)) return { missing: `${out} does not match its manifest (rebuild: bash infra/models/ct2-models.sh)` };
  }
  return { encoder: path.join(dir, g.encoder), decoder: path.join(dir, g.decoder) };
}

/**
 * Where infra/models/float-models.sh writes the fp32/fp16 graphs that infra/models/dequantize.py makes from the
 * shipped int8 ones: `FAIRSCRIBE_FLOAT_MODELS`, else `$FAIRSCRIBE_CACHE/models-float` (default
 * `~/.cache/fairscribe/models-float`), one folder per model in the WHISPER_MODELS_DIR layout.
 */
export function floatModelsRoot(env: NodeJS.ProcessEnv = process.env): string {
  return env.FAIRSCRIBE_FLOAT_MODELS ?? path.join(env.FAIRSCRIBE_CACHE ?? path.join(os.homedir(), '.cache', 'fairscribe'), 'models-float');
}

/**
 * WHISPER_CPU_PRECISION values: the graphs a CPU worker runs the shipped weights at (docs/models.md "fp32 on the CPU").
 * The default is per model ({@link defaultCpuPrecision}: base 'fp32-encoder', tiny.en 'int8').
 * - 'int8': the shipped int8 graphs, one window per model run (their activation scale spans the batch):
 *   1.2-1.8x faster per window than fp32 batched at batch 1-4 and half the RSS (docs/models.md "fp32 on the CPU");
 * - 'fp32' (opt-in): the shipped weights dequantised to fp32 (exactly the values the int8 files represent), batched;
 *   float arithmetic never mixes batch rows, so a window's text is its own at any batch size; more accurate on the
 *   telephone and repeated-speech rows of the long-form WER set, but one longform window loses three sentences;
 * - 'fp32-encoder': the fp32 encoder (as 'fp32') with the shipped int8 merged decoder, one window per model run (the
 *   decoder still quantises its activations per tensor). The encoder is where the per-tensor activation rounding is
 *   coarsest (relative error against fp32 ~0.08-0.14 for the encoder output, ~0.035 for the decoder logits,
 *   docs/models.md), and the decoder steps are where fp32 costs most (base's 51865 x 512 vocabulary projection at
 *   every token), so this keeps most of int8's speed.
 */
export type CpuPrecision = 'fp32' | 'int8' | 'fp32-encoder';
export const CPU_PRECISIONS: readonly CpuPrecision[] = ['fp32', 'int8', 'fp32-encoder'];

/**
 * The CPU graphs a model runs at when WHISPER_CPU_PRECISION is not set: config/models.json `models.<name>.cpuPrecision`,
 * chosen per model from the long-form WER set, language detection and engine time (docs/models.md "Which graphs each
 * model runs"); 'int8' for a model the registry does not name or gives none.
 * @param modelDir a model folder; its base name is the registry's key
 */
export function defaultCpuPrecision(modelDir: string): CpuPrecision {
  const p = (registry.models as Record<string, { cpuPrecision?: string }>)[path.basename(modelDir)]?.cpuPrecision;
  return p && (CPU_PRECISIONS as readonly string[]).includes(p) ? (p as CpuPrecision) : 'int8';
}

/**
 * The fp32 graphs of `modelDir`'s shipped weights for a CPU worker:
 * - `modelDir`'s own `onnx/encoder_model.onnx` + `onnx/decoder_model_merged.onnx` when it has them (a models volume
 *   made from `models-float`, docs/deploy.md: the operator chose that folder, nothing to check);
 * - else `<root>/<model>/`'s, when its built-from.json (infra/models/float-models.sh) names the sha256 of
 *   `modelDir`'s int8 graphs (the files they were dequantised from) and of the fp32 files themselves.
 *
 * Hashes are cached per process by size and mtime (~1 s for tiny.en + base fp32 the first time, measured in
 * docs/models.md). `only` 'encoder': the decoder is neither needed nor checked (WHISPER_CPU_PRECISION=fp32-encoder);
 * the returned `decoder` path is then not checked to exist.
 * @returns absolute paths, or `{ missing }` saying why none can be used (not built; built from other int8 files;
 *   changed since), with the command that builds them
 */
export function floatGraphs(
  modelDir: string,
  root = floatModelsRoot(),
  only?: 'encoder',
): { encoder: string; decoder: string } | { missing: string } {
  const g = GRAPH_FILES.fp32;
  if (hasGraphs(modelDir, 'fp32')) return { encoder: path.join(modelDir, g.encoder), decoder: path.join(modelDir, g.decoder) };
  const model = path.basename(modelDir);
  const build = `bash infra/models/float-models.sh ${model}`;
  const dir = path.join(root, model);
  const manifestFile = path.join(dir, 'built-from.json');
  if (!fs.existsSync(manifestFile)) return { missing: `${manifestFile} does not exist (build: ${build})` };
  let manifest: PerRowManifest;
  try {
    manifest = JSON.parse(fs.readFileSync(manifestFile, 'utf8')) as PerRowManifest;
  } catch (err) {
    return { missing: `${manifestFile} is unreadable (${(err as Error).message}; rebuild: ${build})` };
  }
  const shipped = GRAPH_FILES.int8;
  for (const f of [shipped.encoder, shipped.decoder]) {
    const src = path.join(modelDir, f);
    if (!fs.existsSync(src)) return { missing: `${src} does not exist` };
    if (manifest.sources?.[f]?.sha256 !== sha256Of(src)) return { missing: `${dir} was built from another ${f} than ${src} (rebuild: ${build})` };
  }
  for (const f of only === 'encoder' ? [g.encoder] : [g.encoder, g.decoder]) {
    const out = path.join(dir, f);
    if (!fs.existsSync(out) || !manifest.graphs?.[f]) return { missing: `${out} is missing (build: ${build})` };
    if (manifest.graphs[f].sha256 !== sha256Of(out)) return { missing: `${out} does not match its manifest (rebuild: ${build})` };
  }
  return { encoder: path.join(dir, g.encoder), decoder: path.join(dir, g.decoder) };
}

/**
 * The graphs a CPU worker runs the shipped weights of `modelDir` at, for WHISPER_CPU_PRECISION `wanted`
 * (engine/node-loader.ts; pure apart from reading the folders, so the choice is unit-tested without onnxruntime).
 * @param int8Note how the int8 graphs will run (e.g. ", one window per model run"), for the warning
 * @returns `precision` (of the decoder: int8 means one window per model run) and the `files` to load (null:
 *   `modelDir`'s own graphs of `precision`; for 'fp32-encoder' the fp32 encoder and `modelDir`'s int8 decoder);
 *   `warning` (one sentence: why fp32 is not used and how to build it) when fp32 was wanted and int8 is run instead
 * @throws Error when `modelDir` has neither (choosePrecision's error)
 */
export function chooseCpuGraphs(
  modelDir: string,
  wanted: CpuPrecision,
  int8Note = '',
  root = floatModelsRoot(),
): { precision: Precision; files: { encoder: string; decoder: string } | null; warning?: string } {
  if (wanted === 'int8') return { precision: choosePrecision(modelDir, 'cpu'), files: null };
  const found = floatGraphs(modelDir, root, wanted === 'fp32-encoder' ? 'encoder' : undefined);
  if (!('missing' in found) && wanted === 'fp32-encoder' && hasGraphs(modelDir, 'int8')) {
    // `precision` is the decoder's: it decides batching (int8: one window per model run)
    return { precision: 'int8', files: { encoder: found.encoder, decoder: path.join(modelDir, GRAPH_FILES.int8.decoder) } };
  }
  if (!('missing' in found)) return { precision: 'fp32', files: found };
  const precision = choosePrecision(modelDir, 'cpu');
  return {
    precision,
    files: null,
    warning:
      `fp32 graphs (WHISPER_CPU_PRECISION=${wanted}) unavailable for ${path.basename(modelDir)}: ${found.missing}; ` +
      `running its ${precision} graphs${precision === 'int8' ? int8Note : ''} instead (docs/models.md "fp32 on the CPU")`,
  };
}

/** WHISPER_WEIGHTS values: which weights the graphs hold, and the graph precision on a CPU worker. */
export type WeightVariant = 'shipped' | 'ct2-int8' | 'ct2-fp32';

/**
 * engine/node-loader.ts options of each {@link WeightVariant}, as benchmarks label them (bench/eval-wer.ts
 * `--variants`): `shipped` is the int8 files as shipped (`cpuPrecision: 'int8'`; an inference worker replaces it
 * with WHISPER_CPU_PRECISION, workers/factory.ts); the `ct2-*` ones name the precision (docs/models.md "Weights").
 */
export const WEIGHT_VARIANTS: Record<WeightVariant, { weights?: 'shipped' | 'ct2'; precision?: Precision; cpuPrecision?: CpuPrecision }> = {
  shipped: { cpuPrecision: 'int8' },
  'ct2-int8': { weights: 'ct2', precision: 'int8' },
  'ct2-fp32': { weights: 'ct2', precision: 'fp32' },
};
