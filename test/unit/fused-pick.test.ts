/**
 * engine/pick.ts fusePickIntoDecoder: the greedy pick appended to a decoder graph gives, for every row and
 * decoding state, the token and log-probability of the path it replaces (decoding.ts applyDecodingRules in JS,
 * then a run of the pick graph) to the bit (Object.is), the timestamp forcing rule included (decided by
 * decoding.ts forcesTimestamp from the graph's outputs). The "decoder" here is a one-node graph whose `logits`
 * output is its input (an Identity), so the test controls the logits; the vocabulary is whisper-tiny.en's
 * (../shared/models/whisper-tiny.en).
 */
import { readFileSync } from 'node:fs';
import path from 'node:path';
import * as ort from 'onnxruntime-node';
import { applyDecodingRules, applySuppressionRules, forcesTimestamp } from '../../engine/decoding';
import { FUSED_PICK, fusePickIntoDecoder, int, msg, pickModelBytes, str } from '../../engine/pick';
import { WhisperVocab, type GenerationConfig } from '../../engine/vocab';
import { mulberry32 } from '../helpers/prng';

const MODEL_DIR = path.resolve(__dirname, '../../../shared/models/whisper-tiny.en');
const vocab = new WhisperVocab(JSON.parse(readFileSync(path.join(MODEL_DIR, 'generation_config.json'), 'utf8')) as GenerationConfig);
const V = (JSON.parse(readFileSync(path.join(MODEL_DIR, 'config.json'), 'utf8')) as { vocab_size: number }).vocab_size;
const TB = vocab.timestampBegin;

// --- a minimal ModelProto (opset 14): input `x` float [batch, positions, V] → Identity → output `logits`, written with
// engine/pick.ts's protobuf writers
const valueInfo = (f: number, name: string, dims: (number | string)[]) =>
  msg(f, [...str(1, name), ...msg(2, msg(1, [...int(1, 1), ...msg(2, dims.flatMap((d) => msg(1, typeof d === 'number' ? int(1, d) : str(2, d))))]))]);
function identityDecoder(): Uint8Array {
  const graph = [
    ...msg(1, [...str(1, 'x'), ...str(2, 'logits'), ...str(3, 'id'), ...str(4, 'Identity')]),
    ...str(2, 'fake_decoder'),
    ...valueInfo(11, 'x', ['batch_size', 'positions', V]),
    ...valueInfo(12, 'logits', ['batch_size', 'positions', V]),
  ];
  return Uint8Array.from([...int(1, 8), ...str(2, 'test'), ...msg(7, graph), ...msg(8, [...str(1, ''), ...int(2, 14)])]);
}

describe('fusePickIntoDecoder', () => {
  let fused: ort.InferenceSession;
  let pick: ort.InferenceSession;
  beforeAll(async () => {
    fused = await ort.InferenceSession.create(fusePickIntoDecoder(identityDecoder(), TB, V), { intraOpNumThreads: 2 });
    pick = await ort.InferenceSession.create(pickModelBytes(), { intraOpNumThreads: 1 });
  });
  afterAll(async () => {
    await fused.release();
    await pick.release();
  });

  it('adds the mask input and the pick outputs, keeping the graph\'s own', () => {
    expect(fused.inputNames).toEqual(['x', FUSED_PICK.mask, FUSED_PICK.sotPosition]);
    expect(fused.outputNames).toEqual(['logits', FUSED_PICK.sotLogits, FUSED_PICK.lastLogits, FUSED_PICK.token, FUSED_PICK.logprob, FUSED_PICK.tokenForced, FUSED_PICK.logprobForced, FUSED_PICK.timestampLogits, FUSED_PICK.textMax]);
  });

  it('gives the JS rules + pick graph\'s token and log-probability to the bit, forced timestamps included', async () => {
    const rand = mulberry32(11);
    // decoding states: first token, mid-text, after an open timestamp, after a closed pair, late timestamps
    const states: number[][] = [[], [TB, 464], [TB, 464, 2068, TB + 40], [TB, 464, TB + 40, TB + 40], [TB + 700, 464, 2068], [TB + 1400, 464]];
    const positions = 2; // only the last position is picked from
    let forcedSeen = 0;
    let notForcedSeen = 0;
    for (let trial = 0; trial < 4; trial++) {
      const batch = states.length;
      const x = new Float32Array(batch * positions * V);
      for (let i = 0; i < x.length; i++) x[i] = (rand() - 0.5) * 8;
      for (let b = 0; b < batch; b++) {
        const row = x.subarray((b * positions + positions - 1) * V, (b * positions + positions) * V);
        // half the trials: timestamps far likelier than any text token (the forcing rule fires), else text ahead
        if (trial % 2 === 0) for (let i = TB; i < V; i++) row[i] += 6;
        else row[464 + b] = 30;
        if (trial === 3) row[100] = row[200] = 40; // a tie: the first index wins
      }
      const mask = new Float32Array(batch * V);
      states.forEach((s, b) => applySuppressionRules(mask.subarray(b * V, (b + 1) * V), s, vocab));
      // each row's SOT at position b % positions
      const sot = BigInt64Array.from(states.map((_, b) => BigInt(b % positions)));
      const out = await fused.run({
        x: new ort.Tensor('float32', x, [batch, positions, V]),
        [FUSED_PICK.mask]: new ort.Tensor('float32', mask, [batch, V]),
        [FUSED_PICK.sotPosition]: new ort.Tensor('int64', sot, [batch, 1]),
      });
      // the SOT and last rows are the input's own values
      const sotRows = out[FUSED_PICK.sotLogits].data as Float32Array;
      const lastRows = out[FUSED_PICK.lastLogits].data as Float32Array;
      for (let b = 0; b < batch; b++) {
        const at = (p: number) => x.subarray((b * positions + p) * V, (b * positions + p + 1) * V);
        expect(sotRows.subarray(b * V, (b + 1) * V)).toEqual(at(b % positions));
        expect(lastRows.subarray(b * V, (b + 1) * V)).toEqual(at(positions - 1));
      }
      // the path it replaces
      const last = new Float32Array(batch * V);
      for (let b = 0; b < batch; b++) {
        last.set(x.subarray((b * positions + positions - 1) * V, (b * positions + positions) * V), b * V);
        applyDecodingRules(last.subarray(b * V, (b + 1) * V), states[b], vocab);
      }
      const ref = await pick.run({ logits: new ort.Tensor('float32', last, [batch, V]) });
      const nTs = V - TB;
      for (let b = 0; b < batch; b++) {
        const forced = forcesTimestamp((out[FUSED_PICK.timestampLogits].data as Float32Array).subarray(b * nTs, (b + 1) * nTs), (out[FUSED_PICK.textMax].data as Float32Array)[b]);
        if (forced) forcedSeen++;
        else notForcedSeen++;
        const token = (out[forced ? FUSED_PICK.tokenForced : FUSED_PICK.token].data as BigInt64Array)[b];
        const logprob = (out[forced ? FUSED_PICK.logprobForced : FUSED_PICK.logprob].data as Float32Array)[b];
        expect(token).toBe((ref.token.data as BigInt64Array)[b]);
        expect(Object.is(logprob, (ref.logprob.data as Float32Array)[b])).toBe(true);
      }
    }
    expect(forcedSeen).toBeGreaterThan(0);
    expect(notForcedSeen).toBeGreaterThan(0);
  }, 30_000); // 4 × 6 rows of 51,864 logits through the JS rules: seconds on a loaded 2-core machine

  it('refuses bytes without a graph', () => {
    expect(() => fusePickIntoDecoder(Uint8Array.from(int(1, 8)), TB, V)).toThrow(/no graph/);
  });
});
