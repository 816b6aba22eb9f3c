/**
 * engine/pick.ts: the greedy-pick graph (ArgMax + LogSoftmax + GatherElements built as ONNX bytes) against the JS reference
 * it replaces in the decode loop (decoding.ts greedyPick: first index of the largest logit, float64 log-softmax).
 */
import * as ort from 'onnxruntime-node';
import { greedyPick, logSoftmax } from '../../engine/decoding';
import { pickModelBytes, textTokenProbModelBytes } from '../../engine/pick';

describe('pick graph', () => {
  let session: ort.InferenceSession;
  beforeAll(async () => {
    session = await ort.InferenceSession.create(pickModelBytes(), { intraOpNumThreads: 1 });
  });
  afterAll(() => session.release());

  it('picks greedyPick\'s token (ties: the first index; -inf suppressed entries) with its log-probability within 1e-4', async () => {
    const V = 51864;
    const rows = 3;
    let seed = 7;
    const rand = () => (seed = (seed * 1103515245 + 12345) & 0x7fffffff) / 0x7fffffff;
    const logits = Float32Array.from({ length: rows * V }, () => (rand() - 0.5) * 30);
    for (let i = 0; i < V; i += 3) logits[i] = -Infinity; // a third suppressed, as the decoding rules do
    logits[2 * V + 100] = 40; // row 2: a tie, the first index wins
    logits[2 * V + 200] = 40;
    const out = await session.run({ logits: new ort.Tensor('float32', logits, [rows, V]) });
    expect(out.token.dims).toEqual([rows, 1]);
    expect(out.logprob.dims).toEqual([rows, 1]);
    const tokens = out.token.data as BigInt64Array;
    const logprob = out.logprob.data as Float32Array;
    for (let b = 0; b < rows; b++) {
      const ref = greedyPick(logits.subarray(b * V, (b + 1) * V));
      expect(Number(tokens[b])).toBe(ref.token);
      expect(Math.abs(logprob[b] - ref.logprob)).toBeLessThan(1e-4);
    }
    expect(Number(tokens[2])).toBe(100);
  });

  it('takes any row length and gives the picked token\'s float64 log-softmax probability within 1e-6', async () => {
    const n = 50256;
    const x = Float32Array.from({ length: 2 * n }, (_, i) => Math.sin(i * 0.37) * 12);
    const out = await session.run({ logits: new ort.Tensor('float32', x, [2, n]) });
    const ref = new Float32Array(n);
    logSoftmax(x.subarray(n, 2 * n), ref);
    const tok = Number((out.token.data as BigInt64Array)[1]);
    expect(Math.abs(Math.exp((out.logprob.data as Float32Array)[1]) - Math.exp(ref[tok]))).toBeLessThan(1e-6);
  });
});

describe('text-token probability graph (the word-timestamp pass)', () => {
  it('gives each row\'s softmax at its token: the float64 softmax probability within 1e-6', async () => {
    const session = await ort.InferenceSession.create(textTokenProbModelBytes(), { intraOpNumThreads: 1 });
    try {
      const n = 50256; // ids < EOT of a multilingual vocabulary
      const rows = 3;
      const x = Float32Array.from({ length: rows * n }, (_, i) => Math.sin(i * 0.37) * 12 + (i % n === 4242 ? 60 : 0));
      const tokens = [17, 4242, n - 1];
      const out = await session.run({
        logits: new ort.Tensor('float32', x, [rows, n]),
        tokens: new ort.Tensor('int64', BigInt64Array.from(tokens.map(BigInt)), [rows, 1]),
      });
      expect(out.prob.dims).toEqual([rows, 1]);
      const prob = out.prob.data as Float32Array;
      const ref = new Float32Array(n);
      for (let b = 0; b < rows; b++) {
        logSoftmax(x.subarray(b * n, (b + 1) * n), ref);
        expect(Math.abs(prob[b] - Math.exp(ref[tokens[b]]))).toBeLessThan(1e-6);
      }
      // row 1's mass is on its token
      expect(prob[1]).toBeGreaterThan(0.5);
    } finally {
      await session.release();
    }
  });
});
