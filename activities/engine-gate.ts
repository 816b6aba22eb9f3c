/**
 * First come, first served admission to the engine thread, per model: at most `limit` transcriptions
 * inside it at once, the rest wait here in arrival order — except that the chunks of one job go in
 * their index order: the job whose call has waited longest goes next, with its lowest-index waiting
 * chunk. A job's chunk activities are dispatched together and reach the gate in whatever order their
 * reads finish; a job's results are final and streamed in index order (SSE `segment` events, the OpenAI
 * route's `transcript.text.delta`: audio/transcript.ts finalPrefixSegments), so chunk 0 admitted last held
 * back every delta until the job's end (CI: the first delta 112 ms after `completed`, with three chunks
 * stored 1–3 s before it). Across jobs nothing changes.
 *
 * Why: a worker holds up to INFERENCE_CONCURRENCY (16) chunks at once. A model whose windows run one per
 * model run (the shipped int8 graphs, engine/node-loader.ts) gains nothing from having them all inside
 * the engine thread: there they interleave at every model run (each `await` of an encoder run or decoder
 * step lets another chunk's step in), so all 14 chunks of a job progressed together and finished together
 * at the end of the chunk phase, and their result writes (one locked transaction each, on the job's row)
 * and activity completions queued behind each other after the last inference instead of overlapping it;
 * the first result of the job came only at the end. Admitted one at a time, chunks finish one after the
 * other, each one's write runs while the next one is in the engine, and the first result comes after one
 * chunk's inference (measured: docs/capacity.md "Pipeline throughput", round 5).
 *
 * Batched models keep everything in the engine (limit Infinity): their batcher needs the chunks inside to
 * fill a batch and to queue the next one while a batch runs.
 * Pure (no Temporal, no engine): unit-tested; bench/pipeline.ts runs the engine alone through it as the
 * worker does.
 */

/** The error a waiting call rejects with when its signal aborts before it got in. */
export class GateAbortedError extends Error {
  constructor() {
    super('aborted while waiting for the engine');
    this.name = 'AbortError';
  }
}

/** Which job's chunk a call is, to admit one job's chunks in index order. */
export interface GateOrder {
  job: string;
  index: number;
}

interface Waiter {
  order?: GateOrder;
  admit: () => void;
  reject: (e: Error) => void;
  signal?: AbortSignal;
  onAbort?: () => void;
}

export class EngineGate {
  private inside = 0;
  private readonly queue: Waiter[] = [];

  /** @param limit calls inside at once (≥ 1; Infinity = no gate) */
  constructor(readonly limit: number) {
    if (!(limit >= 1)) throw new Error('an engine gate admits at least one call');
  }

  /** Calls inside now (running `work`). */
  get running(): number {
    return this.inside;
  }

  /** Calls waiting to get in. */
  get waiting(): number {
    return this.queue.length;
  }

  /**
   * Runs `work` once fewer than `limit` calls are inside, in arrival order (one job's chunks by index).
   * @param signal aborting it while waiting takes the call out of the queue (rejects with GateAbortedError);
   *   once inside, `work` itself must watch it
   * @param order the call's job and chunk index; calls without one keep their arrival place
   */
  async run<T>(work: () => Promise<T>, signal?: AbortSignal, order?: GateOrder): Promise<T> {
    await this.enter(signal, order);
    try {
      return await work();
    } finally {
      this.leave();
    }
  }

  private enter(signal?: AbortSignal, order?: GateOrder): Promise<void> {
    if (signal?.aborted) return Promise.reject(new GateAbortedError());
    if (this.inside < this.limit && this.queue.length === 0) {
      this.inside++;
      return Promise.resolve();
    }
    return new Promise<void>((resolve, reject) => {
      const w: Waiter = { order, admit: resolve, reject, signal };
      if (signal) {
        w.onAbort = () => {
          const i = this.queue.indexOf(w);
          if (i >= 0) this.queue.splice(i, 1);
          reject(new GateAbortedError());
        };
        signal.addEventListener('abort', w.onAbort, { once: true });
      }
      this.queue.push(w);
    });
  }

  private leave() {
    this.inside--;
    while (this.inside < this.limit && this.queue.length > 0) {
      const w = this.queue.splice(this.nextIndex(), 1)[0];
      if (w.signal && w.onAbort) w.signal.removeEventListener('abort', w.onAbort);
      this.inside++;
      w.admit();
    }
  }

  /** The queue position to admit: the longest-waiting call's job, its lowest chunk index. */
  private nextIndex(): number {
    const head = this.queue[0].order;
    if (!head) return 0;
    let best = 0;
    for (let i = 1; i < this.queue.length; i++) {
      const o = this.queue[i].order;
      if (o && o.job === head.job && o.index < this.queue[best].order!.index) best = i;
    }
    return best;
  }
}

/**
 * One gate per model id, made on first use with `limitFor(model)`.
 * @param limitFor calls of that model inside the engine at once (Infinity: no gate)
 */
export function engineGates(limitFor: (model: string) => number): (model: string) => EngineGate {
  const gates = new Map<string, EngineGate>();
  return (model) => {
    let g = gates.get(model);
    if (!g) {
      g = new EngineGate(limitFor(model));
      gates.set(model, g);
    }
    return g;
  };
}
