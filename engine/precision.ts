/**
 * Which graphs (int8, fp32, fp16) a model folder offers and which one a worker loads for its execution
 * provider. Node-only (reads the folder), no onnxruntime import, so the worker factory can check a GPU worker's
 * folders before it loads anything.
 */
import * as fs from 'node:fs';
import * as path from 'node:path';
import { GRAPH_FILES, type Precision } from './files';

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
 * The graphs a worker loads from `modelDir`. CPU: int8 (the shipped, measured files; docs/capacity.md), else
 * fp32. CUDA: fp16 when present (half the memory traffic; tensor cores), else fp32; int8 alone is refused
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
