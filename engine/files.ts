/**
 * The files of one Whisper model folder (Hugging Face ONNX layout, as optimum exports it and transformers.js loads it) that
 * an engine loads, and the shapes read from its config.json. Browser-safe: the Node loader reads these
 * files from disk, the privacy-mode page fetches them (with their sha256) from the API.
 */
import type { WhisperDims } from './model';

/** int8 encoder: `input_features` [batch, 80, 3000] → `last_hidden_state` [batch, 1500, d_model]. */
export const ENCODER_FILE = 'onnx/encoder_model_quantized.onnx';
/** int8 merged KV-cache decoder (optimum's `decoder_model_merged`). */
export const DECODER_FILE = 'onnx/decoder_model_merged_quantized.onnx';

/**
 * Numeric formats a model folder may hold its two graphs in. `int8` is what the default WHISPER_MODELS_DIR holds (dynamic
 * quantization: MatMulInteger / ConvInteger / DynamicQuantizeLinear, CPU-only kernels in onnxruntime); `fp32` and
 * `fp16` are made from it by infra/models/dequantize.py for GPU workers. File names follow transformers.js'
 * convention for the same folders (`_quantized`, none, `_fp16`).
 */
export type Precision = 'int8' | 'fp32' | 'fp16';

/** The encoder and merged-decoder file of each precision, relative to the model folder. */
export const GRAPH_FILES: Record<Precision, { encoder: string; decoder: string }> = {
  int8: { encoder: ENCODER_FILE, decoder: DECODER_FILE },
  fp32: { encoder: 'onnx/encoder_model.onnx', decoder: 'onnx/decoder_model_merged.onnx' },
  fp16: { encoder: 'onnx/encoder_model_fp16.onnx', decoder: 'onnx/decoder_model_merged_fp16.onnx' },
};

/** Every file an engine needs from a model folder, ONNX graphs first. */
export const MODEL_FILES = [
  ENCODER_FILE,
  DECODER_FILE,
  'config.json',
  'generation_config.json',
  'tokenizer.json',
  'tokenizer_config.json',
] as const;
export type ModelFile = (typeof MODEL_FILES)[number];

/** The fields of a model's config.json that the engine reads. */
export interface WhisperConfigJson {
  d_model: number;
  decoder_attention_heads: number;
  decoder_layers: number;
  vocab_size: number;
}

/** WhisperDims from a parsed config.json. */
export function dimsFromConfig(config: WhisperConfigJson): WhisperDims {
  return {
    dModel: config.d_model,
    heads: config.decoder_attention_heads,
    layers: config.decoder_layers,
    vocabSize: config.vocab_size,
  };
}
