/**
 * Dynamic batching policy: requests wait until `maxBatch` of them are
 * queued or `maxWaitMs` has passed since the oldest one arrived, then run together in one call; one
 * batch runs at a time. Pure policy: the clock is injected, the model call is a function, so it is
 * unit-tested with a fake clock. Browser-safe.
 */

export interface BatchClock {
  now(): number;
  setTimeout(fn: () => void, ms: number): unknown;
  clearTimeout(handle: unknown): void;
}

export const systemClock: BatchClock = {
  now: () => performance.now(),
  setTimeout: (fn, ms) => setTimeout(fn, ms),
  clearTimeout: (h) => clearTimeout(h as ReturnType<typeof setTimeout>),
};

export interface BatcherOptions<I, O> {
  /** most items in one run (model registry: economy 8, balanced 4, quality 1) */
  maxBatch: number;
  /** longest an item waits for others before its batch runs anyway (ms) */
  maxWaitMs: number;
  /** runs one batch; returns one result or Error per item, in order */
  run: (items: I[]) => Promise<(O | Error)[]>;
  clock?: BatchClock;
  /** called after every run: how many items, and how long the oldest one waited (ms) */
  onBatch?: (info: { size: number; oldestWaitMs: number; runMs: number }) => void;
}

/** The error an aborted item's promise rejects with. */
export class BatchItemAbortedError extends Error {
  constructor() {
    super('request aborted');
    this.name = 'AbortError';
  }
}

interface Pending<I, O> {
  item: I;
  arrivedAt: number;
  resolve: (o: O) => void;
  reject: (e: Error) => void;
  signal?: AbortSignal;
  onAbort?: () => void;
}

export class DynamicBatcher<I, O> {
  private readonly queue: Pending<I, O>[] = [];
  private running = false;
  private timer: unknown = null;
  private readonly clock: BatchClock;

  constructor(private readonly opts: BatcherOptions<I, O>) {
    if (opts.maxBatch < 1) throw new Error('maxBatch must be ≥ 1');
    this.clock = opts.clock ?? systemClock;
  }

  /** Items waiting for a batch (not counting the one running). */
  get waiting(): number {
    return this.queue.length;
  }

  /**
   * Queues one item. An aborted signal takes it out of the queue (its promise rejects with
   * BatchItemAbortedError); once its batch has started, the result is dropped instead.
   */
  submit(item: I, signal?: AbortSignal): Promise<O> {
    if (signal?.aborted) return Promise.reject(new BatchItemAbortedError());
    return new Promise<O>((resolve, reject) => {
      const p: Pending<I, O> = { item, arrivedAt: this.clock.now(), resolve, reject, signal };
      if (signal) {
        p.onAbort = () => {
          const i = this.queue.indexOf(p);
          if (i >= 0) this.queue.splice(i, 1);
          reject(new BatchItemAbortedError());
          if (this.queue.length === 0) this.clearTimer();
        };
        signal.addEventListener('abort', p.onAbort, { once: true });
      }
      this.queue.push(p);
      this.schedule();
    });
  }

  private clearTimer() {
    if (this.timer !== null) {
      this.clock.clearTimeout(this.timer);
      this.timer = null;
    }
  }

  /** Runs a batch now if it is full or its oldest item has waited long enough; else arms the timer. */
  private schedule() {
    if (this.running || this.queue.length === 0) return;
    const waited = this.clock.now() - this.queue[0].arrivedAt;
    if (this.queue.length >= this.opts.maxBatch || waited >= this.opts.maxWaitMs) {
      this.clearTimer();
      void this.dispatch();
      return;
    }
    if (this.timer === null) {
      this.timer = this.clock.setTimeout(() => {
        this.timer = null;
        this.schedule();
      }, this.opts.maxWaitMs - waited);
    }
  }

  private async dispatch() {
    const batch = this.queue.splice(0, this.opts.maxBatch);
    for (const p of batch) if (p.signal && p.onAbort) p.signal.removeEventListener('abort', p.onAbort);
    this.running = true;
    const startedAt = this.clock.now();
    try {
      const results = await this.opts.run(batch.map((p) => p.item));
      batch.forEach((p, i) => {
        const r = results[i];
        if (p.signal?.aborted) p.reject(new BatchItemAbortedError());
        else if (r instanceof Error) p.reject(r);
        else if (r === undefined) p.reject(new Error('batch run returned no result for this item'));
        else p.resolve(r);
      });
    } catch (err) {
      for (const p of batch) p.reject(err instanceof Error ? err : new Error(String(err)));
    } finally {
      this.running = false;
      this.opts.onBatch?.({
        size: batch.length,
        oldestWaitMs: startedAt - batch[0].arrivedAt,
        runMs: this.clock.now() - startedAt,
      });
      this.schedule();
    }
  }
}
