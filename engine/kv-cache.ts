/**
 * The decoder's self-attention KV cache kept in JS buffers that are reused, so a cached decoder step allocates no
 * ArrayBuffer for it. onnxruntime-node copies every fetched output into a new ArrayBuffer (engine/ort-sync.ts;
 * preallocated outputs are filled and still returned as a copy in 1.24.3): fetching each layer's whole
 * `present.{l}.decoder.*` [batch, heads, t + 1, head_dim] every step was most of what started V8's collections in
 * the engine thread. With the step graph's last positions (step-graph.ts stepKvName, [batch, heads, head_dim]) a
 * step fetches only the new token's key and value, and {@link SelfAttentionCache.append} lays the next past out.
 *
 * Layout as the merged decoder's `past_key_values.{l}.decoder.*` input wants it: [batch, heads, t, head_dim],
 * contiguous, so each step writes the grown cache into the other of two buffers (ping-pong): the same values the
 * decoder's own Concat writes into `present` (openai/whisper model.py MultiHeadAttention's kv_cache, cat along the
 * sequence axis). Browser-safe.
 */

/** Buffers kept for reuse between decode calls, per size (a few windows' worth). */
const POOL_PER_SIZE = 64;

/** Float32Array buffers by length, reused across decode calls (one pool per model). */
export class Float32Pool {
  private readonly free = new Map<number, Float32Array[]>();

  /** A buffer of exactly `length` floats, reused when one was given back (its contents are stale). */
  take(length: number): Float32Array {
    return this.free.get(length)?.pop() ?? new Float32Array(length);
  }

  /** Gives buffers back for a later `take` of the same length. */
  give(buffers: readonly Float32Array[]): void {
    for (const b of buffers) {
      const list = this.free.get(b.length) ?? [];
      if (list.length < POOL_PER_SIZE) list.push(b);
      this.free.set(b.length, list);
    }
  }
}

/**
 * `count` self-attention caches (layers × key/value) of one batched decode, each [batch, heads, t, headDim].
 * Capacity grows by doubling (a window samples at most 224 tokens after its prompt, openai decoding.py sample_len),
 * so short windows hold small buffers.
 */
export class SelfAttentionCache {
  private readonly current: Float32Array[];
  private readonly spare: Float32Array[];
  private capacity = 0;
  /** positions held (t) */
  length = 0;

  /**
   * @param count   caches (2 × decoder layers)
   * @param rows    batch × heads: the leading dims, each row a [t, headDim] block
   * @param headDim 64 for every Whisper size
   * @param pool    where the buffers come from and go back to ({@link release})
   */
  constructor(
    private readonly count: number,
    private readonly rows: number,
    private readonly headDim: number,
    private readonly pool: Float32Pool,
  ) {
    this.current = new Array<Float32Array>(count);
    this.spare = new Array<Float32Array>(count);
  }

  /**
   * Starts every cache from the first step's `present` outputs.
   * @param presents per cache, [rows, t, headDim] float32 (the decoder's present.{l}.decoder.* after the prompt)
   * @param t the prompt's length
   */
  load(presents: readonly Float32Array[], t: number): void {
    if (presents.length !== this.count) throw new Error(`SelfAttentionCache: ${presents.length} caches, expected ${this.count}`);
    this.reserve(t);
    const n = this.rows * t * this.headDim;
    presents.forEach((p, i) => {
      if (p.length !== n) throw new Error(`SelfAttentionCache: cache ${i} holds ${p.length} floats, expected ${n}`);
      this.current[i].set(p);
    });
    this.length = t;
  }

  /**
   * Appends one position to every cache.
   * @param lasts per cache, the new position [rows, headDim] (step-graph.ts stepKvName outputs)
   */
  append(lasts: readonly Float32Array[]): void {
    const t = this.length;
    const d = this.headDim;
    this.reserve(t + 1);
    for (let i = 0; i < this.count; i++) {
      const from = this.current[i];
      const to = this.spare[i];
      const last = lasts[i];
      if (last.length !== this.rows * d) throw new Error(`SelfAttentionCache: position ${i} holds ${last.length} floats, expected ${this.rows * d}`);
      for (let r = 0; r < this.rows; r++) {
        to.set(from.subarray(r * t * d, (r + 1) * t * d), r * (t + 1) * d);
        to.set(last.subarray(r * d, (r + 1) * d), (r * (t + 1) + t) * d);
      }
      this.spare[i] = from;
      this.current[i] = to;
    }
    this.length = t + 1;
  }

  /** Cache `i` as the decoder's past input: a view [rows × length × headDim] of its buffer (valid until the next append). */
  view(i: number): Float32Array {
    return this.current[i].subarray(0, this.rows * this.length * this.headDim);
  }

  /** Gives the buffers back to the pool; the cache is empty after. */
  release(): void {
    this.pool.give([...this.current, ...this.spare].filter((b) => b !== undefined));
    this.current.fill(undefined as unknown as Float32Array);
    this.spare.fill(undefined as unknown as Float32Array);
    this.capacity = 0;
    this.length = 0;
  }

  /** Room for `t` positions in both buffers of every cache, doubling from 64 (copies what the current ones hold). */
  private reserve(t: number): void {
    if (t <= this.capacity) return;
    let cap = Math.max(64, this.capacity);
    while (cap < t) cap *= 2;
    const size = this.rows * cap * this.headDim;
    const held = this.rows * this.length * this.headDim;
    for (let i = 0; i < this.count; i++) {
      const next = this.pool.take(size);
      if (this.current[i]) next.set(this.current[i].subarray(0, held));
      const old = [this.current[i], this.spare[i]].filter((b) => b !== undefined);
      this.pool.give(old);
      this.current[i] = next;
      this.spare[i] = this.pool.take(size);
    }
    this.capacity = cap;
  }
}
