/**
 * engine/ort-sync.ts: sessions on onnxruntime-node's native binding give what the public API gives, check what it
 * checks, and still let the event loop turn during a long series of runs.
 */
import * as ort from 'onnxruntime-node';
import { SyncSession, YIELD_EVERY_MS, createSyncSession } from '../../engine/ort-sync';
import type * as OrtSync from '../../engine/ort-sync';
import { int, intAttribute, msg, node, str, valueInfo } from '../../engine/pick';

/**
 * A small test graph: `logits` float32 [rows, n] → `token` int64 [rows, 1] (ArgMax) and `logprob` float32 [rows, 1]
 * (LogSoftmax at the token), the greedy pick the engine ran as a graph of its own before engine/step-graph.ts.
 */
function pickModelBytes(): Uint8Array {
  const graph = [
    ...node('ArgMax', 'logits', 'token', [intAttribute('axis', 1), intAttribute('keepdims', 1)]),
    ...node('LogSoftmax', 'logits', 'logprobs', [intAttribute('axis', 1)]),
    ...node('GatherElements', ['logprobs', 'token'], 'logprob', [intAttribute('axis', 1)]),
    ...str(2, 'test_pick'),
    ...valueInfo(11, 'logits', 1, ['rows', 'n']),
    ...valueInfo(12, 'token', 7, ['rows', 1]),
    ...valueInfo(12, 'logprob', 1, ['rows', 1]),
  ];
  return Uint8Array.from([...int(1, 8), ...str(2, 'fairscribe-test'), ...msg(7, graph), ...msg(8, [...str(1, ''), ...int(2, 13)])]);
}

const opts: ort.InferenceSession.SessionOptions = { intraOpNumThreads: 1, interOpNumThreads: 1, graphOptimizationLevel: 'all' };

function logits(rows: number, n: number, seed: number): ort.Tensor {
  const data = new Float32Array(rows * n);
  let x = seed;
  for (let i = 0; i < data.length; i++) {
    x = (x * 1103515245 + 12345) % 2 ** 31;
    data[i] = (x / 2 ** 31) * 20 - 10;
  }
  return new ort.Tensor('float32', data, [rows, n]);
}

describe('createSyncSession', () => {
  let sync: Awaited<ReturnType<typeof createSyncSession>>;
  let pub: ort.InferenceSession;
  beforeAll(async () => {
    sync = await createSyncSession(pickModelBytes(), opts, (m) => {
      throw new Error(`unexpected fallback: ${m}`);
    });
    pub = await ort.InferenceSession.create(pickModelBytes(), opts);
  });
  afterAll(async () => {
    await sync.release();
    await pub.release();
  });

  it('uses the native binding on the pinned onnxruntime-node', () => {
    expect(sync).toBeInstanceOf(SyncSession);
    expect(sync.inputNames).toEqual(pub.inputNames);
    expect(sync.outputNames).toEqual(pub.outputNames);
  });

  it('returns the public API outputs bit for bit, as onnxruntime-common Tensors', async () => {
    const feeds = { logits: logits(3, 1000, 7) };
    const a = await pub.run(feeds);
    const b = await sync.run(feeds);
    expect(Object.keys(b).sort()).toEqual(Object.keys(a).sort());
    for (const name of Object.keys(a)) {
      expect(b[name]).toBeInstanceOf(ort.Tensor);
      expect(b[name].dims).toEqual(a[name].dims);
      expect(b[name].type).toBe(a[name].type);
      expect(Array.from(b[name].data as ArrayLike<number | bigint>)).toEqual(Array.from(a[name].data as ArrayLike<number | bigint>));
    }
    // a fetch list returns only those outputs (the same array object again: its converted form is cached)
    const only = ['logprob'];
    expect(Object.keys(await sync.run(feeds, only))).toEqual(['logprob']);
    expect(Object.keys(await sync.run({ logits: logits(2, 50, 3) }, only))).toEqual(['logprob']);
  });

  it('writes a preallocated output tensor and returns a copy (onnxruntime-node 1.24.3)', async () => {
    const feeds = { logits: logits(2, 100, 11) };
    const want = (await sync.run(feeds)).logprob.data as Float32Array;
    const mine = new Float32Array(2);
    const out = await sync.run(feeds, { logprob: new ort.Tensor('float32', mine, [2, 1]) });
    expect(Array.from(mine)).toEqual(Array.from(want));
    expect(out.logprob.data).not.toBe(mine);
  });

  it('rejects what onnxruntime-common rejects, with its messages', async () => {
    await expect(sync.run({})).rejects.toThrow("input 'logits' is missing in 'feeds'.");
    await expect(sync.run({ logits: logits(1, 10, 1) }, ['nope'])).rejects.toThrow("'fetches' contains invalid output name: nope.");
    await expect(sync.run({ logits: logits(1, 10, 1) }, [])).rejects.toThrow("'fetches' cannot be an empty array.");
  });

  it('lets the event loop turn at least every YIELD_EVERY_MS of back-to-back runs', async () => {
    const feeds = { logits: logits(16, 51864, 5) };
    let turned = false;
    setImmediate(() => (turned = true));
    const start = performance.now();
    let runs = 0;
    // awaiting settled promises only runs microtasks: without a hop the immediate above never runs in this loop
    while (!turned && performance.now() - start < 10 * YIELD_EVERY_MS) {
      await sync.run(feeds);
      runs++;
    }
    expect(turned).toBe(true);
    expect(runs).toBeGreaterThan(0);
    // and a run right after a turn does not hop: it has settled before any immediate can run
    let immediate = false;
    setImmediate(() => (immediate = true));
    let settled = false;
    const p = sync.run(feeds).then(() => (settled = true));
    await Promise.resolve();
    await Promise.resolve();
    expect(settled).toBe(true);
    expect(immediate).toBe(false);
    await p;
  });
});

describe('createSyncSession on an onnxruntime-node release it was not checked on', () => {
  it('falls back to the public API, saying so once per process', async () => {
    const warnings: string[] = [];
    let fresh: typeof OrtSync | undefined;
    jest.isolateModules(() => {
      jest.doMock('onnxruntime-node/package.json', () => ({ version: '9.9.9' }));
      fresh = require('../../engine/ort-sync') as typeof OrtSync;
    });
    {
      const { createSyncSession: create, SyncSession: Sync } = fresh!;
      const a = await create(pickModelBytes(), opts, (m) => warnings.push(m));
      const b = await create(pickModelBytes(), opts, (m) => warnings.push(m));
      expect(a).not.toBeInstanceOf(Sync);
      expect(a.constructor.name).toBe('InferenceSession'); // the isolated registry's own onnxruntime-common class
      const out = await a.run({ logits: logits(2, 20, 9) }, ['token']);
      expect(out.token.dims).toEqual([2, 1]);
      await a.release();
      await b.release();
    }
    jest.dontMock('onnxruntime-node/package.json');
    expect(warnings).toHaveLength(1);
    expect(warnings[0]).toMatch(/onnxruntime-node 9\.9\.9 .*public onnxruntime-node API/);
  });
});
