/**
 * The activity worker's handle on the engine thread: sends audio, awaits results, never blocks the
 * event loop. One engine thread per process; it serves requests in order.
 */
import * as path from 'node:path';
import { Worker } from 'node:worker_threads';
import type { DetectResult, EngineRequest, EngineResponse, EngineResult, LoadRequest } from './protocol';
import { loadOrtBeforeSpawning } from './ort-load';

type DistributiveOmit<T, K extends keyof T> = T extends unknown ? Omit<T, K> : never;
type Pending = { resolve: (r: EngineResult | DetectResult | null) => void; reject: (e: Error) => void };

export class EngineClient {
  private readonly worker: Worker;
  private readonly pending = new Map<number, Pending>();
  private nextId = 1;
  private dead: Error | null = null;

  constructor(
    private readonly load: Omit<LoadRequest, 'batching'>,
    onWarning: (msg: string) => void = (m) => console.warn(m),
    /** batching per model folder (maxBatch from the model registry); none = one window per run */
    private readonly batchingFor: (modelDir: string) => LoadRequest['batching'] = () => undefined,
  ) {
    // From TypeScript sources the thread boots through tsx; a compiled build runs thread.js directly.
    const entry = path.join(__dirname, __filename.endsWith('.ts') ? 'thread-boot.js' : 'thread.js');
    loadOrtBeforeSpawning(); // engine/ort-load.ts: the spawning thread loads the addon first
    this.worker = new Worker(entry);
    this.worker.on('message', (msg: EngineResponse) => {
      if ('type' in msg) return onWarning(msg.message);
      const p = this.pending.get(msg.id);
      if (!p) return;
      this.pending.delete(msg.id);
      if (msg.ok) p.resolve(msg.result);
      else p.reject(new Error(msg.error));
    });
    const fail = (err: Error) => {
      this.dead = err;
      for (const p of this.pending.values()) p.reject(err);
      this.pending.clear();
    };
    this.worker.on('error', fail);
    this.worker.on('exit', (code) => fail(new Error(`engine thread exited with code ${code}`)));
  }

  private call(
    req: DistributiveOmit<EngineRequest, 'id'>,
    transfer: ArrayBuffer[] = [],
    signal?: AbortSignal,
  ): Promise<EngineResult | DetectResult | null> {
    if (this.dead) return Promise.reject(this.dead);
    const id = this.nextId++;
    signal?.addEventListener('abort', () => this.worker.postMessage({ type: 'cancel', id: this.nextId++, target: id }), {
      once: true,
    });
    return new Promise((resolve, reject) => {
      this.pending.set(id, { resolve, reject });
      this.worker.postMessage({ ...req, id }, transfer);
    });
  }

  /** Loads a model folder in the engine thread (call before polling so the first task is not slow). */
  async preload(modelDir: string): Promise<void> {
    await this.call({ type: 'load', modelDir, load: this.loadFor(modelDir) });
  }

  /**
   * Transcribes 16 kHz mono float32 PCM. The samples' buffer is transferred to the engine thread:
   * the caller must not use `samples` afterwards.
   */
  async transcribe(
    modelDir: string,
    samples: Float32Array,
    opts: { language: string | null; task: 'transcribe' | 'translate'; prompt?: string | null; seed?: number; wordTimestamps?: boolean; temperature?: number | null; fallback?: boolean },
    signal?: AbortSignal,
  ): Promise<EngineResult> {
    const r = await this.call(
      { type: 'transcribe', modelDir, load: this.loadFor(modelDir), samples, language: opts.language, task: opts.task, prompt: opts.prompt, seed: opts.seed, wordTimestamps: opts.wordTimestamps, temperature: opts.temperature, fallback: opts.fallback },
      [samples.buffer as ArrayBuffer],
      signal,
    );
    return r as EngineResult;
  }

  /**
   * The language of the first 30 s window (multilingual models only). The samples' buffer is
   * transferred to the engine thread.
   */
  async detectLanguage(modelDir: string, samples: Float32Array): Promise<DetectResult> {
    const r = await this.call({ type: 'detect', modelDir, load: this.loadFor(modelDir), samples }, [samples.buffer as ArrayBuffer]);
    return r as DetectResult;
  }

  private loadFor(modelDir: string): LoadRequest {
    return { ...this.load, batching: this.batchingFor(modelDir) };
  }

  /**
   * Lets the engine thread finish its queued runs, release the sessions and exit; terminates it only
   * if that takes longer than `graceMs` (terminating inside an onnxruntime run aborts the process).
   */
  async close(graceMs = 60_000): Promise<void> {
    if (this.dead) return;
    const exited = new Promise<void>((resolve) => this.worker.once('exit', () => resolve()));
    const closing = this.call({ type: 'close' }).catch(() => undefined);
    this.dead = new Error('engine closed');
    let timer: NodeJS.Timeout | undefined;
    const timeout = new Promise<'timeout'>((resolve) => (timer = setTimeout(() => resolve('timeout'), graceMs)));
    const outcome = await Promise.race([closing.then(() => exited), timeout]);
    clearTimeout(timer);
    if (outcome === 'timeout') await this.worker.terminate();
  }
}
