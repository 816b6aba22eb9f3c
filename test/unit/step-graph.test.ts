/**
 * engine/step-graph.ts: the decoding rules' forcing and the greedy pick appended to the decoder graph, against the JS
 * path it replaces in the decode loop (decoding.ts applyDecodingRules + greedyPick on the last position's row).
 * On its own (a model whose only input is `logits` [batch, seq, vocab], random rows) and appended to the shipped
 * whisper-tiny.en decoder (../shared/models), whose own outputs must not change.
 */
import { readFileSync } from 'node:fs';
import path from 'node:path';
import * as ort from 'onnxruntime-node';
import { applyDecodingRules, greedyPick, suppressionMask, suppressionMaskBase } from '../../engine/decoding';
import { int, msg, str, valueInfo } from '../../engine/pick';
import { fusedDecoderBytes, NO_MASK_DIMS, stepGraphField, stepKvName, STEP_LOGPROB, STEP_TOKEN, SUPPRESS_MASK } from '../../engine/step-graph';
import { WhisperVocab, type GenerationConfig } from '../../engine/vocab';
import { mulberry32 } from '../helpers/prng';

const MODEL_DIR = path.resolve(__dirname, '../../../shared/models/whisper-tiny.en');
const gen = JSON.parse(readFileSync(path.join(MODEL_DIR, 'generation_config.json'), 'utf8')) as GenerationConfig;
const config = JSON.parse(readFileSync(path.join(MODEL_DIR, 'config.json'), 'utf8'));
const V: number = config.vocab_size;
const vocab = new WhisperVocab(gen);
const TB = vocab.timestampBegin;
const ts = (i: number) => TB + i;
const base = suppressionMaskBase(vocab, V);

/** The JS path of the decode loop on one row: the rules in place, then the greedy pick. */
function jsPick(row: Float32Array, sampled: number[]): { token: number; logprob: number } {
  const r = Float32Array.from(row);
  applyDecodingRules(r, sampled, vocab);
  return greedyPick(r);
}

describe('the step graph alone (input logits [batch, seq, vocab])', () => {
  let session: ort.InferenceSession;
  beforeAll(async () => {
    // ModelProto{ir_version 8, graph{input logits}, opset 14} + the appended graph field: the same merge as the decoder's
    const head = [...int(1, 8), ...msg(7, valueInfo(11, 'logits', 1, ['batch', 'seq', 'vocab'])), ...msg(8, [...str(1, ''), ...int(2, 14)])];
    session = await ort.InferenceSession.create(fusedDecoderBytes(Uint8Array.from(head), TB), { intraOpNumThreads: 1 });
  });
  afterAll(() => session.release());

  test('gives the token of applyDecodingRules + greedyPick, and its log-probability within 1e-5, for every rule', async () => {
    const rand = mulberry32(3);
    const histories: number[][] = [[], [ts(0)], [ts(0), 464], [ts(0), 464, ts(90)], [ts(0), 464, ts(90), ts(90)], [464, 2068]];
    const seq = 2;
    let forcedSeen = 0;
    let timestampsSeen = 0;
    for (let trial = 0; trial < 6; trial++) {
      const batch = histories.length;
      // random logits at the last position (the graph must read that one), a constant elsewhere
      const logits = new Float32Array(batch * seq * V).fill(3);
      const mask = new Float32Array(batch * V);
      for (let b = 0; b < batch; b++) {
        const last = logits.subarray((b * seq + seq - 1) * V, (b * seq + seq) * V);
        for (let i = 0; i < V; i++) last[i] = (rand() - 0.5) * 20;
        // some rows where the timestamps' mass beats the best text token (forced), some where one timestamp leads
        if (trial % 2 === 1) last.fill(8 + rand() * 2, TB);
        if (trial === 2 && b % 2 === 0) last[TB + 400] = 40;
        suppressionMask(mask.subarray(b * V, (b + 1) * V), histories[b], vocab, base);
      }
      const out = await session.run({
        logits: new ort.Tensor('float32', logits, [batch, seq, V]),
        [SUPPRESS_MASK]: new ort.Tensor('float32', mask, [batch, V]),
      });
      expect(out[STEP_TOKEN].dims).toEqual([batch, 1]);
      expect(out[STEP_LOGPROB].dims).toEqual([batch, 1]);
      for (let b = 0; b < batch; b++) {
        const row = logits.subarray((b * seq + seq - 1) * V, (b * seq + seq) * V);
        const ref = jsPick(row, histories[b]);
        const token = Number((out[STEP_TOKEN].data as BigInt64Array)[b]);
        const logprob = (out[STEP_LOGPROB].data as Float32Array)[b];
        expect({ trial, b, token }).toEqual({ trial, b, token: ref.token });
        expect(Math.abs(logprob - ref.logprob)).toBeLessThan(1e-5);
        // forced: the best text logit beat by the chosen timestamp's log-sum-exp
        let textMax = -Infinity;
        for (let i = 0; i < TB; i++) if (row[i] + mask[b * V + i] > textMax) textMax = row[i] + mask[b * V + i];
        if (token >= TB) timestampsSeen++;
        if (token >= TB && textMax > row[token]) forcedSeen++;
      }
    }
    expect(forcedSeen).toBeGreaterThan(3);
    expect(timestampsSeen).toBeGreaterThan(10);
  }, 30_000);

  test('with every timestamp suppressed nothing is forced (the log-sum-exp of no entries)', async () => {
    const logits = Float32Array.from({ length: V }, (_, i) => Math.sin(i * 0.37) * 12);
    const mask = new Float32Array(V);
    suppressionMask(mask, [ts(0), 464, ts(20), ts(20)], vocab, base); // a closed pair: no timestamp next
    const out = await session.run({
      logits: new ort.Tensor('float32', logits, [1, 1, V]),
      [SUPPRESS_MASK]: new ort.Tensor('float32', mask, [1, V]),
    });
    const ref = jsPick(logits, [ts(0), 464, ts(20), ts(20)]);
    expect(Number((out[STEP_TOKEN].data as BigInt64Array)[0])).toBe(ref.token);
    expect(ref.token).toBeLessThan(TB);
    expect(Math.abs((out[STEP_LOGPROB].data as Float32Array)[0] - ref.logprob)).toBeLessThan(1e-5);
  });

  test('ties go to the first index, as torch.argmax and greedyPick', async () => {
    const logits = new Float32Array(V).fill(-5);
    logits[300] = 7;
    logits[200] = 7;
    const out = await session.run({
      logits: new ort.Tensor('float32', logits, [1, 1, V]),
      [SUPPRESS_MASK]: new ort.Tensor('float32', new Float32Array(1), [...NO_MASK_DIMS]),
    });
    expect(Number((out[STEP_TOKEN].data as BigInt64Array)[0])).toBe(200);
  });

  test('the appended field is one GraphProto field (7) of a ModelProto', () => {
    const field = stepGraphField(TB);
    expect(field[0]).toBe((7 << 3) | 2);
  });
});

describe('the step graph appended to the whisper-tiny.en decoder', () => {
  let plain: ort.InferenceSession;
  let fused: ort.InferenceSession;
  const file = path.join(MODEL_DIR, 'onnx/decoder_model_merged_quantized.onnx');
  beforeAll(async () => {
    const bytes = readFileSync(file);
    const opts = { intraOpNumThreads: 1, interOpNumThreads: 1 };
    [plain, fused] = await Promise.all([
      ort.InferenceSession.create(file, opts),
      ort.InferenceSession.create(fusedDecoderBytes(bytes, TB), opts),
    ]);
  }, 60_000);
  afterAll(() => Promise.all([plain.release(), fused.release()]));

  test('keeps every input and output of the decoder, adds suppress_mask, token and logprob', () => {
    expect(fused.inputNames).toEqual([...plain.inputNames, SUPPRESS_MASK]);
    expect(fused.outputNames).toEqual([...plain.outputNames, STEP_TOKEN, STEP_LOGPROB]);
  });

  test('computes the decoder\'s logits bit for bit, and the JS path\'s token and log-probability from them', async () => {
    const H = config.decoder_attention_heads;
    const D = config.d_model;
    const rand = mulberry32(11);
    const hidden = new ort.Tensor('float32', Float32Array.from({ length: 2 * 1500 * D }, () => rand() - 0.5), [2, 1500, D]);
    const prompt = [vocab.sot, vocab.sot];
    const feeds: Record<string, ort.Tensor> = {
      input_ids: new ort.Tensor('int64', BigInt64Array.from(prompt.map(BigInt)), [2, 1]),
      encoder_hidden_states: hidden,
      use_cache_branch: new ort.Tensor('bool', new Uint8Array([0]), [1]),
    };
    const empty = new ort.Tensor('float32', new Float32Array(0), [2, H, 0, 64]);
    for (const name of plain.inputNames.filter((n) => n.startsWith('past_key_values'))) feeds[name] = empty;
    const histories = [[], [ts(0), 464]];
    const mask = new Float32Array(2 * V);
    histories.forEach((h, b) => suppressionMask(mask.subarray(b * V, (b + 1) * V), h, vocab, base));
    const a = await plain.run(feeds, ['logits']);
    const b = await fused.run({ ...feeds, [SUPPRESS_MASK]: new ort.Tensor('float32', mask, [2, V]) }, ['logits', STEP_TOKEN, STEP_LOGPROB]);
    const la = a.logits.data as Float32Array;
    const lb = b.logits.data as Float32Array;
    expect(lb.length).toBe(la.length);
    let differ = 0;
    for (let i = 0; i < la.length; i++) if (la[i] !== lb[i]) differ++;
    expect(differ).toBe(0);
    for (let r = 0; r < 2; r++) {
      const ref = jsPick(la.subarray(r * V, (r + 1) * V), histories[r]);
      expect(Number((b[STEP_TOKEN].data as BigInt64Array)[r])).toBe(ref.token);
      expect(Math.abs((b[STEP_LOGPROB].data as Float32Array)[r] - ref.logprob)).toBeLessThan(1e-5);
    }
    // runs that read only the decoder's own outputs feed the [1, 1] zero mask (model.ts detectLanguage, alignmentPass)
    const c = await fused.run({ ...feeds, [SUPPRESS_MASK]: new ort.Tensor('float32', new Float32Array(1), [...NO_MASK_DIMS]) }, ['logits']);
    expect((c.logits.data as Float32Array).every((v, i) => v === la[i])).toBe(true);
  }, 60_000);

  test('with the layer count, outputs each self-attention cache\'s last position: present[:, :, -1, :]', async () => {
    const L = config.decoder_layers;
    const H = config.decoder_attention_heads;
    const D = config.d_model;
    const withKv = await ort.InferenceSession.create(fusedDecoderBytes(readFileSync(file), TB, L), { intraOpNumThreads: 1, interOpNumThreads: 1 });
    try {
      const presents = Array.from({ length: L }, (_, l) => ['key', 'value'].map((k) => `present.${l}.decoder.${k}`)).flat();
      expect(withKv.outputNames).toEqual([...plain.outputNames, STEP_TOKEN, STEP_LOGPROB, ...presents.map(stepKvName)]);
      const rand = mulberry32(5);
      const T = 3; // a prompt of 3 positions, batch 2
      const feeds: Record<string, ort.Tensor> = {
        input_ids: new ort.Tensor('int64', BigInt64Array.from([vocab.sot, 464, 345, vocab.sot, 286, 11].map(BigInt)), [2, T]),
        encoder_hidden_states: new ort.Tensor('float32', Float32Array.from({ length: 2 * 1500 * D }, () => rand() - 0.5), [2, 1500, D]),
        use_cache_branch: new ort.Tensor('bool', new Uint8Array([0]), [1]),
        [SUPPRESS_MASK]: new ort.Tensor('float32', new Float32Array(1), [...NO_MASK_DIMS]),
      };
      const empty = new ort.Tensor('float32', new Float32Array(0), [2, H, 0, 64]);
      for (const name of withKv.inputNames.filter((n) => n.startsWith('past_key_values'))) feeds[name] = empty;
      const out = await withKv.run(feeds, [...presents, ...presents.map(stepKvName)]);
      for (const name of presents) {
        const full = out[name].data as Float32Array; // [2, H, T, 64]
        const last = out[stepKvName(name)];
        expect(last.dims).toEqual([2, H, 64]);
        const want = new Float32Array(2 * H * 64);
        for (let r = 0; r < 2 * H; r++) want.set(full.subarray((r * T + T - 1) * 64, (r * T + T) * 64), r * 64);
        expect(Array.from(last.data as Float32Array)).toEqual(Array.from(want));
      }
    } finally {
      await withKv.release();
    }
  }, 60_000);
});
