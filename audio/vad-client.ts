/**
 * Speech detection off the event loop: Silero VAD (audio/silero-vad.ts) in one worker thread per process
 * (audio/vad-thread.ts), fed block by block, so it runs in one pass over a stream of PCM and holds no
 * more than the block in flight. Used by audio preparation (activities/audio.ts, activities/channels.ts).
 */
import * as fs from 'node:fs';
import * as path from 'node:path';
import { Worker } from 'node:worker_threads';
import type { VadRequest, VadResponse } from './vad-thread';
import { loadOrtBeforeSpawning } from '../engine/ort-load';

type Waiter = { resolve: (probs: Float32Array) => void; reject: (e: Error) => void };

/** The process's VAD thread: started on first use, unref'd so it never keeps a process alive. */
export class VadThread {
  private static instance: VadThread | null = null;
  private readonly worker: Worker;
  private readonly waiting = new Map<number, Waiter[]>();
  private nextId = 1;
  private dead: Error | null = null;

  static shared(): VadThread {
    if (!VadThread.instance || VadThread.instance.dead) VadThread.instance = new VadThread();
    return VadThread.instance;
  }

  private constructor() {
    const entry = path.join(__dirname, __filename.endsWith('.ts') ? 'vad-thread-boot.js' : 'vad-thread.js');
    loadOrtBeforeSpawning(); // engine/ort-load.ts: the spawning thread loads the addon first
    this.worker = new Worker(entry);
    this.worker.unref();
    this.worker.on('message', (msg: VadResponse) => {
      const w = this.waiting.get(msg.id)?.shift();
      if (!w) return;
      if ('error' in msg) w.reject(new Error(`speech detection failed: ${msg.error}`));
      else w.resolve(msg.probs);
    });
    const fail = (err: Error) => {
      this.dead = err;
      for (const ws of this.waiting.values()) for (const w of ws) w.reject(err);
      this.waiting.clear();
    };
    this.worker.on('error', fail);
    this.worker.on('exit', (code) => fail(new Error(`VAD thread exited with code ${code}`)));
  }

  /**
   * Ends the process's VAD thread, if one runs (scripts and tests; services keep theirs): the thread
   * releases its session and closes its port itself, since terminating it inside an onnxruntime run
   * can abort the process (engine/thread.ts says the same of the engine thread).
   */
  static async closeShared(): Promise<void> {
    const t = VadThread.instance;
    VadThread.instance = null;
    if (!t || t.dead) return;
    const exited = new Promise<void>((resolve) => t.worker.once('exit', () => resolve()));
    t.post({ type: 'close' });
    await exited;
  }

  /**
   * A new stream with its own model state.
   * @param opts.levelled raise quiet audio before the VAD scores it (audio/vad-gain.ts): `true`, one gain per 30 s
   *   window, so probabilities come when each window is complete (whole-file preparation); `'running'`, a gain per
   *   512-sample frame from the running peak of what came before, so probabilities come as without it (live streams)
   */
  open(opts: { levelled?: boolean | 'running' } = {}): VadStream {
    const id = this.nextId++;
    this.post({ type: 'open', id, levelled: opts.levelled ?? false });
    return new VadStream(id, this);
  }

  /** @internal */
  request(req: VadRequest & { id: number }, transfer: ArrayBuffer[] = []): Promise<Float32Array> {
    if (this.dead) return Promise.reject(this.dead);
    return new Promise((resolve, reject) => {
      const list = this.waiting.get(req.id) ?? [];
      list.push({ resolve, reject });
      this.waiting.set(req.id, list);
      this.post(req, transfer);
    });
  }

  private post(req: VadRequest, transfer: ArrayBuffer[] = []): void {
    this.worker.postMessage(req, transfer);
  }
}

/**
 * One audio stream's speech detection: `push` blocks in order (await each to bound memory), then
 * `finish` once. The implementation of the shared contract "a class with push(block) / finish()".
 */
export class VadStream {
  /** samples pushed */
  samples = 0;
  /** wall time spent waiting on the VAD thread, ms */
  busyMs = 0;

  constructor(
    private readonly id: number,
    private readonly thread: VadThread,
  ) {}

  /**
   * Adds 16 kHz mono float32 samples (copied: the caller keeps its block).
   * @returns the speech probabilities of the 512-sample frames this block completed, in stream order
   */
  async push(block: Float32Array): Promise<Float32Array> {
    if (block.length === 0) return new Float32Array(0);
    this.samples += block.length;
    const copy = Float32Array.from(block);
    const t0 = performance.now();
    const probs = await this.thread.request({ type: 'push', id: this.id, block: copy }, [copy.buffer as ArrayBuffer]);
    this.busyMs += performance.now() - t0;
    return probs;
  }

  /**
   * Ends the stream (and frees its state on the thread).
   * @returns the last, zero-padded frame's probability, if the stream ended inside a frame
   */
  async finish(): Promise<Float32Array> {
    const t0 = performance.now();
    const probs = await this.thread.request({ type: 'finish', id: this.id });
    this.busyMs += performance.now() - t0;
    return probs;
  }
}

/** Bytes per block read from a PCM file: 2^18 float32 samples (16.4 s at 16 kHz, 1 MiB). */
const FILE_BLOCK_BYTES = 1 << 20;

/** Blocks of a raw float32 little-endian PCM file, read in order without loading the file whole. */
export async function* pcmFileBlocks(file: string, blockBytes = FILE_BLOCK_BYTES): AsyncGenerator<Float32Array> {
  const fh = await fs.promises.open(file, 'r');
  try {
    for (;;) {
      const buf = new Float32Array(blockBytes / 4);
      const { bytesRead } = await fh.read(new Uint8Array(buf.buffer), 0, blockBytes, null);
      if (bytesRead <= 0) return;
      yield buf.subarray(0, Math.floor(bytesRead / 4));
    }
  } finally {
    await fh.close();
  }
}

/**
 * Speech probabilities of a whole stream of 16 kHz mono blocks, one pass, on the VAD thread, with preparation's
 * levelled input (audio/vad-gain.ts; `levelled: false` for the raw input); an aborted `signal` stops it between
 * blocks (the probabilities then cover only what was read).
 * @returns per-frame probabilities, the sample count, and the milliseconds the detection took
 */
export async function detectSpeech(
  blocks: AsyncIterable<Float32Array>,
  signal?: AbortSignal,
  opts: { levelled?: boolean } = {},
): Promise<{ probs: Float32Array; samples: number; vadMs: number }> {
  const stream = VadThread.shared().open({ levelled: opts.levelled ?? true });
  const t0 = performance.now();
  const parts: Float32Array[] = [];
  try {
    for await (const b of blocks) {
      // Stops between blocks on cancellation (the caller checks the signal; the stream is ended below).
      if (signal?.aborted) break;
      parts.push(await stream.push(b));
    }
  } finally {
    parts.push(await stream.finish());
  }
  const probs = new Float32Array(parts.reduce((n, p) => n + p.length, 0));
  let at = 0;
  for (const p of parts) {
    probs.set(p, at);
    at += p.length;
  }
  return { probs, samples: stream.samples, vadMs: performance.now() - t0 };
}
