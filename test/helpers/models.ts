import * as fs from 'node:fs';
import * as path from 'node:path';

/** The shared Whisper models (../shared/models beside the repository). */
export const SHARED_MODELS = path.resolve(__dirname, '../../../shared/models');

/**
 * A models folder in `dir` holding whisper-tiny.en with an empty encoder file: installed as far as
 * routing can tell (the API admits jobs for it), unloadable by an inference worker.
 * @returns the folder to use as WHISPER_MODELS_DIR
 */
export function brokenModelsDir(dir: string): string {
  const models = path.join(dir, 'broken-models');
  const src = path.join(SHARED_MODELS, 'whisper-tiny.en');
  const dst = path.join(models, 'whisper-tiny.en');
  fs.mkdirSync(path.join(dst, 'onnx'), { recursive: true });
  for (const f of fs.readdirSync(src)) if (f !== 'onnx') fs.symlinkSync(path.join(src, f), path.join(dst, f));
  for (const f of fs.readdirSync(path.join(src, 'onnx'))) {
    const target = path.join(dst, 'onnx', f);
    if (f === 'encoder_model_quantized.onnx') fs.writeFileSync(target, '');
    else fs.symlinkSync(path.join(src, 'onnx', f), target);
  }
  return models;
}
