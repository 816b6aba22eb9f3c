/**
 * engine/pick.ts: the text-token probability graph (Softmax + GatherElements built as ONNX bytes) of the word-timestamp
 * pass against a float64 JS softmax. (The greedy pick is in the decoder's step graph now: step-graph.test.ts.)
 */
import * as ort from 'onnxruntime-node';
import { logSoftmax } from '../../engine/decoding';
import { textTokenProbModelBytes } from '../../engine/pick';

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
