/**
 * Live audio on the API side, pure and unit-tested: client frames → 16 kHz mono float32, and the
 * utterance segmenter that decides when to decode (a partial at most every `partialEverySeconds` while
 * someone speaks, a final at a pause or when an utterance reaches Whisper's window).
 * Speech is Silero VAD's (audio/silero-vad.ts, probabilities per 32 ms frame), as for file jobs, so live
 * and file jobs agree on what speech is.
 */
import { DEFAULT_VAD, negThresholdOf, VAD_FRAME_SAMPLES } from '../audio/vad';
import { SAMPLE_RATE } from '../engine/constants';

export type LiveEncoding = 'pcm_s16le' | 'f32';

/**
 * Decodes one binary frame: little-endian signed 16-bit or float32 samples, mono.
 * @throws Error when the byte length is not a whole number of samples
 */
export function frameToFloat32(frame: Buffer, encoding: LiveEncoding): Float32Array {
  const width = encoding === 'pcm_s16le' ? 2 : 4;
  if (frame.length % width !== 0) throw new Error(`a ${encoding} frame must be a whole number of ${width}-byte samples (got ${frame.length} bytes)`);
  const n = frame.length / width;
  const out = new Float32Array(n);
  if (encoding === 'pcm_s16le') for (let i = 0; i < n; i++) out[i] = frame.readInt16LE(i * 2) / 32768;
  else for (let i = 0; i < n; i++) out[i] = frame.readFloatLE(i * 4);
  return out;
}

/**
 * Streaming linear-interpolation resampler to 16 kHz. Linear interpolation aliases a little when
 * downsampling; Whisper tolerates it, and clients that care send 16 kHz (the recommended rate).
 */
export class Resampler {
  private readonly step: number;
  /** position of the next output sample, in input samples since the stream began */
  private t = 0;
  /** input samples seen before the current frame */
  private consumed = 0;
  /** the previous frame's last sample (input index consumed - 1) */
  private last = 0;

  constructor(readonly inputRate: number) {
    this.step = inputRate / SAMPLE_RATE;
  }

  push(input: Float32Array): Float32Array {
    if (this.inputRate === SAMPLE_RATE) return input;
    const end = this.consumed + input.length;
    const x = (k: number) => (k < this.consumed ? this.last : input[k - this.consumed]);
    const out: number[] = [];
    while (Math.floor(this.t) + 1 < end) {
      const k = Math.floor(this.t);
      out.push(x(k) + (x(k + 1) - x(k)) * (this.t - k));
      this.t += this.step;
    }
    this.consumed = end;
    if (input.length > 0) this.last = input[input.length - 1];
    return Float32Array.from(out);
  }
}

export interface SegmenterOptions {
  /** non-speech after speech that ends an utterance, seconds (issue #17: VAD silence ≥ 0.6 s) */
  pauseSeconds: number;
  /** an utterance this long is finalised even without a pause (Whisper's window is 30 s) */
  maxUtteranceSeconds: number;
  /** a partial re-decode at most this often while speech goes on, seconds */
  partialEverySeconds: number;
  /** non-speech kept before speech starts, seconds (the first word's onset) */
  prerollSeconds: number;
  /** Silero VAD thresholds: speech from `threshold`, non-speech below `negThreshold`, in between the state holds (audio/vad.ts) */
  threshold: number;
  negThreshold: number;
}

export const DEFAULT_SEGMENTER: SegmenterOptions = {
  pauseSeconds: 0.6,
  maxUtteranceSeconds: 25,
  partialEverySeconds: 1,
  prerollSeconds: 0.3,
  threshold: DEFAULT_VAD.threshold,
  negThreshold: negThresholdOf(DEFAULT_VAD),
};

export interface DecodeRequest {
  kind: 'partial' | 'final';
  /** index of the utterance on the stream */
  utterance: number;
  /** window start and end on the stream's time line, seconds */
  start: number;
  end: number;
  /** 16 kHz mono samples of the window (a copy) */
  samples: Float32Array;
}

/**
 * Splits a 16 kHz stream into utterances by Silero VAD speech probabilities (audio/silero-vad.ts, run by
 * the caller on the VAD thread): an utterance ends after `pauseSeconds` of frames below the negative
 * threshold, whatever the room's noise level (an energy floor cut a noisy room's utterances only at the
 * 25 s cap). Memory is bounded: the buffer holds at most one utterance (`maxUtteranceSeconds`) plus the
 * samples whose probabilities have not come yet.
 */
export class UtteranceSegmenter {
  private readonly buf: Float32Array;
  private len = 0;
  /** buffer start on the stream time line, in samples */
  private bufStart = 0;
  /** probabilities received, per 512-sample stream frame, not yet classified */
  private readonly probs: number[] = [];
  /** stream index of the next frame to classify */
  private nextFrame = 0;
  private speech = false;
  private silentRun = 0;
  private lastPartialAt = 0;
  private utterance = 0;
  /** samples received in all */
  total = 0;

  constructor(private readonly opts: SegmenterOptions = DEFAULT_SEGMENTER) {
    // One utterance, plus a second of samples whose VAD probabilities are still on their way.
    this.buf = new Float32Array(Math.ceil((opts.maxUtteranceSeconds + 1) * SAMPLE_RATE) + VAD_FRAME_SAMPLES);
  }

  /**
   * Adds samples and the VAD probabilities of the stream frames completed so far (frame i = stream
   * samples [512 i, 512 i + 512); they may lag the samples).
   * @returns the decodes now due, finals first, in stream order
   */
  push(samples: Float32Array, probs: ArrayLike<number>): DecodeRequest[] {
    const out: DecodeRequest[] = [];
    for (let i = 0; i < probs.length; i++) this.probs.push(probs[i]);
    let offset = 0;
    while (offset < samples.length) {
      const take = Math.min(samples.length - offset, this.buf.length - this.len);
      this.buf.set(samples.subarray(offset, offset + take), this.len);
      this.len += take;
      this.total += take;
      offset += take;
      this.analyse(out);
      // Probabilities lagging a whole buffer behind (the caller runs the VAD before each push, so they
      // lag by less than a frame): cut or drop what is there rather than grow.
      if (this.len >= this.buf.length) {
        if (this.speech) out.push(this.cut(this.len));
        else this.drop(this.len - Math.round(this.opts.prerollSeconds * SAMPLE_RATE));
      }
    }
    this.analyse(out);
    if (this.speech && this.total - this.lastPartialAt >= this.opts.partialEverySeconds * SAMPLE_RATE) {
      this.lastPartialAt = this.total;
      out.push(this.request('partial', this.len));
    }
    return out;
  }

  /** The last utterance, if it holds speech (call at the end of the stream). */
  flush(): DecodeRequest | null {
    if (!this.speech) return null;
    return this.cut(this.len);
  }

  private analyse(out: DecodeRequest[]): void {
    const pause = this.opts.pauseSeconds * SAMPLE_RATE;
    const maxLen = this.opts.maxUtteranceSeconds * SAMPLE_RATE;
    while (this.probs.length > 0 && (this.nextFrame + 1) * VAD_FRAME_SAMPLES <= this.bufStart + this.len) {
      const p = this.probs.shift()!;
      this.nextFrame++;
      // buffer position just after the frame (frames dropped with the buffer start count as done)
      const analysed = Math.max(0, this.nextFrame * VAD_FRAME_SAMPLES - this.bufStart);
      if (p >= this.opts.threshold) {
        if (!this.speech) this.lastPartialAt = this.total - (this.len - analysed);
        this.speech = true;
        this.silentRun = 0;
      } else if (p < this.opts.negThreshold || !this.speech || this.silentRun > 0) {
        // faster-whisper vad.py: once a pause has begun (below neg_threshold), it lasts until a frame
        // reaches the threshold again; frames in between do not end it.
        this.silentRun += VAD_FRAME_SAMPLES;
      }
      if (!this.speech) {
        // Only non-speech so far: keep the preroll, drop the rest.
        const keep = Math.round(this.opts.prerollSeconds * SAMPLE_RATE);
        if (analysed > keep) this.drop(analysed - keep);
      } else if (this.silentRun >= pause || analysed >= maxLen) {
        out.push(this.cut(analysed));
      }
    }
  }

  /** A final for buffer[0, end), then the buffer restarts at `end`. */
  private cut(end: number): DecodeRequest {
    const r = this.request('final', end);
    this.utterance++;
    this.drop(end);
    this.speech = false;
    this.silentRun = 0;
    return r;
  }

  private request(kind: 'partial' | 'final', end: number): DecodeRequest {
    return {
      kind,
      utterance: this.utterance,
      start: this.bufStart / SAMPLE_RATE,
      end: (this.bufStart + end) / SAMPLE_RATE,
      samples: this.buf.slice(0, end),
    };
  }

  private drop(n: number): void {
    this.buf.copyWithin(0, n, this.len);
    this.len -= n;
    this.bufStart += n;
  }
}
