/**
 * The Silero VAD v5 stream of audio/silero-vad.ts (its file comment: the reference frame loop of
 * snakers4/silero-vad utils_vad.py `OnnxWrapper.__call__`, and the sequence graph's block calls), apart from
 * the Node-only model loading so the privacy-mode page's worker runs the same code on onnxruntime-web
 * (api/edge/bundle.ts maps this `onnxruntime-node` import to onnxruntime-web: the same Tensor and session API).
 */
import * as ort from 'onnxruntime-node';
import { VAD_FRAME_SAMPLES, VAD_SAMPLE_RATE } from './vad';

/** utils_vad.py: `context_size = 64 if sr == 16000 else 32`. */
export const VAD_CONTEXT_SAMPLES = 64;
/** utils_vad.py `reset_states`: `torch.zeros((2, batch_size, 128))`. */
const STATE_SIZE = 2 * 1 * 128;

/**
 * Frames per call of the sequence graph: bounds the call's input (2048 × 576 float32 = 4.7 MB) and intermediate
 * tensors whatever block a caller pushes; preparation's 30 s blocks (938 frames) are one call.
 */
const SEQ_MAX_FRAMES = 2048;

/**
 * Speech probabilities over a stream: `push` blocks of any length, `finish` once. Probabilities come out per
 * whole 512-sample frame, in order; frame i covers samples [512 i, 512 i + 512). Runs the frame loop on the
 * shipped graph (input, state, sr) and whole blocks of frames on the sequence graph (input, h, c).
 */
export class SileroVadStream {
  private state = new Float32Array(STATE_SIZE);
  /** the session is the sequence graph (inputs input [N, 576], h, c) */
  private readonly sequence: boolean;
  /** the model input: 64 samples of context, then the frame */
  private readonly input = new Float32Array(VAD_CONTEXT_SAMPLES + VAD_FRAME_SAMPLES);
  /** samples of the current frame filled so far (input[64 + filled]) */
  private filled = 0;
  private readonly sr = new ort.Tensor('int64', BigInt64Array.from([BigInt(VAD_SAMPLE_RATE)]), []);
  private done = false;
  /** samples pushed in all */
  samples = 0;

  constructor(private readonly session: ort.InferenceSession) {
    this.sequence = session.inputNames.includes('h');
  }

  /**
   * Adds samples (float32, 16 kHz mono, [-1, 1]).
   * @returns the probabilities of the frames this block completed (possibly none)
   */
  async push(block: Float32Array): Promise<Float32Array> {
    if (this.done) throw new Error('SileroVadStream: push after finish');
    this.samples += block.length;
    if (this.sequence) return this.pushSequence(block);
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
    if (this.sequence) {
      const probs = await this.runSequence(Float32Array.from(this.input), 1);
      this.filled = 0;
      return probs;
    }
    return Float32Array.from([await this.runFrame()]);
  }

  /**
   * The sequence graph over the whole frames of [context, pending samples, block]: row i of the call's input is
   * the 64 samples before frame i and frame i, as the loop's `input` would be at frame i.
   */
  private async pushSequence(block: Float32Array): Promise<Float32Array> {
    const row = VAD_CONTEXT_SAMPLES + VAD_FRAME_SAMPLES;
    const pending = VAD_CONTEXT_SAMPLES + this.filled;
    const all = new Float32Array(pending + block.length);
    all.set(this.input.subarray(0, pending));
    all.set(block, pending);
    const frames = Math.floor((all.length - VAD_CONTEXT_SAMPLES) / VAD_FRAME_SAMPLES);
    const out = new Float32Array(frames);
    for (let f0 = 0; f0 < frames; f0 += SEQ_MAX_FRAMES) {
      const n = Math.min(SEQ_MAX_FRAMES, frames - f0);
      const x = new Float32Array(n * row);
      for (let i = 0; i < n; i++) {
        const at = (f0 + i) * VAD_FRAME_SAMPLES;
        x.set(all.subarray(at, at + row), i * row);
      }
      out.set(await this.runSequence(x, n), f0);
    }
    // What is left: the last 64 samples before the next frame (its context) and the next frame's first samples.
    const rest = all.subarray(frames * VAD_FRAME_SAMPLES);
    this.input.set(rest);
    this.filled = rest.length - VAD_CONTEXT_SAMPLES;
    return out;
  }

  /** One call of the sequence graph over `n` rows of 576 samples, carrying h (state[0]) and c (state[1]). */
  private async runSequence(x: Float32Array, n: number): Promise<Float32Array> {
    const h = 128;
    const r = await this.session.run({
      input: new ort.Tensor('float32', x, [n, VAD_CONTEXT_SAMPLES + VAD_FRAME_SAMPLES]),
      h: new ort.Tensor('float32', this.state.slice(0, h), [1, 1, h]),
      c: new ort.Tensor('float32', this.state.slice(h), [1, 1, h]),
    });
    this.state.set(r.hN.data as Float32Array, 0);
    this.state.set(r.cN.data as Float32Array, h);
    return Float32Array.from(r.probs.data as Float32Array);
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
