/**
 * The greedy choice of every row of a [batch, vocab] logits matrix in one onnxruntime run: ArgMax (first index of
 * the largest value, as `decoding.ts` greedyPick and torch's argmax) and LogSoftmax (openai/whisper decoding.py
 * scores each sampled token with `F.log_softmax(logits.float(), dim=-1)`, float32 as here).
 *
 * Why a graph and not JS: a log-softmax needs one exp per vocabulary entry (51,864) per token; JS's Math.exp
 * costs ~0.5 ms per row on this machine's cores, onnxruntime's vectorised kernel (MLAS) ~0.05 ms, which made
 * JS per token the largest part of our distance to the bare-onnxruntime limit (bench/profile-engine.ts).
 *
 * The graph is built here as ONNX protobuf bytes (field numbers from onnx/onnx.proto, opset 13) so no model file
 * is added: ModelProto{ir_version 8, graph, opset_import ""/13}. Browser-safe (onnxruntime-web runs it too).
 */

const utf8 = new TextEncoder();

/** Protobuf wire-format writers for the ONNX messages built here (exported for tests that build a graph too). */
export function varint(n: number): number[] {
  const out: number[] = [];
  while (n > 127) {
    out.push((n & 127) | 128);
    n = Math.floor(n / 128);
  }
  out.push(n);
  return out;
}
/** protobuf wire types: 0 varint, 2 length-delimited */
export const key = (field: number, wire: number) => varint(field * 8 + wire);
export const int = (field: number, n: number) => [...key(field, 0), ...varint(n)];
export const msg = (field: number, b: readonly number[]) => [...key(field, 2), ...varint(b.length), ...b];
export const str = (field: number, s: string) => msg(field, [...utf8.encode(s)]);

/** AttributeProto{name = 1, i = 3, type = 20 (INT = 2)} */
const intAttribute = (name: string, v: number) => msg(5, [...str(1, name), ...int(3, v), ...int(20, 2)]);
/** NodeProto{input = 1, output = 2, name = 3, op_type = 4, attribute = 5} */
const node = (op: string, input: string | string[], output: string, attrs: number[][]) =>
  msg(1, [...[input].flat().flatMap((i) => str(1, i)), ...str(2, output), ...str(3, output), ...str(4, op), ...attrs.flat()]);
/**
 * ValueInfoProto{name = 1, type = 2: TypeProto{tensor_type = 1: {elem_type = 1, shape = 2: {dim = 1: {dim_value = 1 | dim_param = 2}}}}}
 * @param elem TensorProto.DataType: FLOAT = 1, INT64 = 7
 */
function valueInfo(field: number, name: string, elem: number, dims: (number | string)[]): number[] {
  const shape = dims.flatMap((d) => msg(1, typeof d === 'number' ? int(1, d) : str(2, d)));
  return msg(field, [...str(1, name), ...msg(2, msg(1, [...int(1, elem), ...msg(2, shape)]))]);
}

/**
 * The ONNX model `logits` float32 [rows, n] → `token` int64 [rows, 1] (ArgMax, axis 1, keepdims 1,
 * select_last_index 0) and `logprob` float32 [rows, 1]: the LogSoftmax (axis 1) of each row at its token
 * (GatherElements), so a row's [n] log-probabilities stay inside onnxruntime. The values are LogSoftmax's own:
 * the gather only selects them. Row length is free (the decode loop passes [batch, vocab]).
 */
export function pickModelBytes(): Uint8Array {
  const graph = [
    ...node('ArgMax', 'logits', 'token', [intAttribute('axis', 1), intAttribute('keepdims', 1), intAttribute('select_last_index', 0)]),
    ...node('LogSoftmax', 'logits', 'logprobs', [intAttribute('axis', 1)]),
    ...node('GatherElements', ['logprobs', 'token'], 'logprob', [intAttribute('axis', 1)]),
    ...str(2, 'whisper_greedy_pick'),
    ...valueInfo(11, 'logits', 1, ['rows', 'n']),
    ...valueInfo(12, 'token', 7, ['rows', 1]),
    ...valueInfo(12, 'logprob', 1, ['rows', 1]),
  ];
  // ModelProto{ir_version = 1, producer_name = 2, graph = 7, opset_import = 8: {domain = 1, version = 2}}
  return Uint8Array.from([...int(1, 8), ...str(2, 'fairscribe'), ...msg(7, graph), ...msg(8, [...str(1, ''), ...int(2, 13)])]);
}

/**
 * The ONNX model `logits` float32 [rows, n], `tokens` int64 [rows, 1] → `prob` float32 [rows, 1]: each row's
 * softmax (axis 1) at its token (GatherElements). The word-timestamp pass's text-token probabilities exactly as
 * openai/whisper timing.py find_alignment computes them: `token_probs = sampled_logits.softmax(dim=-1)` in float32
 * over `logits[:, :eot]`, then `token_probs[np.arange(len(text_tokens)), text_tokens]`. onnxruntime's Softmax kernel
 * (MLAS, vectorised exp) took 5 ms for [90, 50257] where ReduceLogSumExp (a scalar exp per entry) took 50 ms.
 */
export function textTokenProbModelBytes(): Uint8Array {
  const graph = [
    ...node('Softmax', 'logits', 'probs', [intAttribute('axis', 1)]),
    ...node('GatherElements', ['probs', 'tokens'], 'prob', [intAttribute('axis', 1)]),
    ...str(2, 'whisper_text_token_prob'),
    ...valueInfo(11, 'logits', 1, ['rows', 'n']),
    ...valueInfo(11, 'tokens', 7, ['rows', 1]),
    ...valueInfo(12, 'prob', 1, ['rows', 1]),
  ];
  return Uint8Array.from([...int(1, 8), ...str(2, 'fairscribe'), ...msg(7, graph), ...msg(8, [...str(1, ''), ...int(2, 13)])]);
}

/** Names the fused decoder graph adds (fusePickIntoDecoder); model.ts looks for them. */
export const FUSED_PICK = {
  /** input: float32 [batch, vocab], 0 or -inf per id: the decoding rules' suppressions for this step */
  mask: 'decode_mask',
  /** outputs without the timestamp forcing: int64 [batch, 1] token, float32 [batch, 1] its log-probability */
  token: 'pick_token',
  logprob: 'pick_logprob',
  /** outputs with every text id suppressed as well (the forcing rule's row) */
  tokenForced: 'pick_token_forced',
  logprobForced: 'pick_logprob_forced',
  /** float32 [batch, vocab - timestampBegin]: the masked logits of the timestamp ids (the forcing rule reads them) */
  timestampLogits: 'pick_timestamp_logits',
  /** float32 [batch, 1]: the largest masked logit among the text ids (< timestampBegin) */
  textMax: 'pick_text_max',
  /** input: int64 [batch, 1], each row's <|startoftranscript|> position in input_ids (0 on cached steps) */
  sotPosition: 'sot_position',
  /** float32 [batch, vocab]: the logits at `sot_position` (the no-speech probability reads them on the first step) */
  sotLogits: 'sot_logits',
  /** float32 [batch, vocab]: the last position's logits, unmasked (rows sampling at a temperature read them) */
  lastLogits: 'last_logits',
} as const;

/** Reads the protobuf varint at `pos`: [value, next position] (values < 2^53). */
function readVarint(b: Uint8Array, pos: number): [number, number] {
  let v = 0;
  let mul = 1;
  for (;;) {
    const byte = b[pos++];
    if (byte === undefined) throw new Error('fusePickIntoDecoder: truncated protobuf');
    v += (byte & 127) * mul;
    if (byte < 128) return [v, pos];
    mul *= 128;
  }
}

/** TensorProto{dims = 1, data_type = 2, name = 8, raw_data = 9} with little-endian raw bytes */
function tensorProto(name: string, elem: number, dims: number[], raw: Uint8Array): number[] {
  return [...dims.flatMap((d) => int(1, d)), ...int(2, elem), ...str(8, name), ...key(9, 2), ...varint(raw.length), ...raw];
}
const int64Raw = (xs: number[]) => new Uint8Array(BigInt64Array.from(xs.map(BigInt)).buffer);

/**
 * The decoder graph (an ONNX ModelProto with a `logits` output float32 [batch, positions, vocab], opset 13–17,
 * e.g. optimum's merged Whisper decoder) with the greedy pick of its last position appended, so one decoder run
 * per token does what a decoder run, the JS decoding rules and a run of {@link pickModelBytes} did, and the
 * [batch, vocab] logits no longer leave onnxruntime (onnxruntime-node copies every fetched output into a new
 * ArrayBuffer). The rules are split (decoding.ts): the ones that depend only on the tokens so far come in as
 * the additive `decode_mask` input (0 or -inf per id; x + 0 = x and x + -inf = -inf exactly, so `logits + mask`
 * is the row applySuppressionRules leaves); the timestamp forcing rule, which depends on the logits, is
 * evaluated both ways: `pick_token`/`pick_logprob` as the pick graph gives them for `logits + mask`, and
 * `pick_token_forced`/`pick_logprob_forced` for the same row with every text id (< timestampBegin) at -inf,
 * beside `pick_timestamp_logits` and `pick_text_max`, from which decoding.ts forcesTimestamp decides in float64
 * exactly as applyDecodingRules does. `sot_logits` (the row at each row's `sot_position` input) and `last_logits` (the
 * last position, unmasked) let the caller read the no-speech probability and sample at a temperature without
 * fetching `logits`, which on a first step is [batch, prompt length, vocab] (47 MB with a 223-token context prompt).
 * ArgMax, LogSoftmax and GatherElements are the pick graph's nodes with its
 * attributes, over the same values: tokens and log-probabilities are the pick graph's to the bit.
 *
 * The graph is edited as protobuf bytes: GraphProto's repeated fields (node, initializer, input, output) are
 * appended to the graph message, which protobuf merges; everything else is copied unchanged.
 * @param model the decoder ModelProto bytes
 * @param timestampBegin id of <|0.00|>; @param vocabSize the logits' last dimension
 * @returns new ModelProto bytes (the input is not modified)
 * @throws Error when the bytes hold no graph, or the opset is outside 13–17 (ReduceMax's axes attribute)
 */
export function fusePickIntoDecoder(model: Uint8Array, timestampBegin: number, vocabSize: number): Uint8Array {
  // top-level ModelProto fields: find graph (7) and the default-domain opset (8: OperatorSetIdProto{domain 1, version 2})
  let graphStart = -1;
  let graphEnd = -1;
  let graphFieldStart = -1;
  let opset = -1;
  for (let pos = 0; pos < model.length; ) {
    const fieldStart = pos;
    let tag: number;
    [tag, pos] = readVarint(model, pos);
    const field = Math.floor(tag / 8);
    const wire = tag & 7;
    if (wire === 0) [, pos] = readVarint(model, pos);
    else if (wire === 1) pos += 8;
    else if (wire === 5) pos += 4;
    else if (wire === 2) {
      let len: number;
      [len, pos] = readVarint(model, pos);
      if (field === 7) {
        graphFieldStart = fieldStart;
        graphStart = pos;
        graphEnd = pos + len;
      } else if (field === 8) {
        let domain = '';
        let version = -1;
        for (let p = pos; p < pos + len; ) {
          let t: number;
          [t, p] = readVarint(model, p);
          if ((t & 7) === 2) {
            let l: number;
            [l, p] = readVarint(model, p);
            if (t >> 3 === 1) domain = new TextDecoder().decode(model.subarray(p, p + l));
            p += l;
          } else [version, p] = readVarint(model, p);
        }
        if (domain === '' || domain === 'ai.onnx') opset = version;
      }
      pos += len;
    } else throw new Error(`fusePickIntoDecoder: unsupported protobuf wire type ${wire}`);
  }
  if (graphStart < 0) throw new Error('fusePickIntoDecoder: no graph in the model');
  if (opset < 13 || opset > 17) throw new Error(`fusePickIntoDecoder: opset ${opset} outside 13–17`);

  const tb = timestampBegin;
  const F = FUSED_PICK;
  const textMask = new Float32Array(vocabSize);
  textMask.fill(-Infinity, 0, tb);
  const p = (s: string) => `fairscribe_pick/${s}`;
  const added = [
    ...msg(5, tensorProto(p('last'), 7, [], int64Raw([-1]))),
    ...msg(5, tensorProto(p('text_mask'), 1, [1, vocabSize], new Uint8Array(textMask.buffer))),
    ...msg(5, tensorProto(p('ts_start'), 7, [1], int64Raw([tb]))),
    ...msg(5, tensorProto(p('ts_end'), 7, [1], int64Raw([vocabSize]))),
    ...msg(5, tensorProto(p('zero'), 7, [1], int64Raw([0]))),
    ...msg(5, tensorProto(p('axis1'), 7, [1], int64Raw([1]))),
    // the last position's logits: [batch, positions, vocab] → [batch, vocab]
    ...node('Gather', ['logits', p('last')], F.lastLogits, [intAttribute('axis', 1)]),
    // the SOT position's logits: GatherND with one batch dimension, [batch, positions, vocab] × [batch, 1] → [batch, vocab]
    ...node('GatherND', ['logits', F.sotPosition], F.sotLogits, [intAttribute('batch_dims', 1)]),
    ...node('Add', [F.lastLogits, F.mask], p('masked'), []),
    ...node('ArgMax', p('masked'), F.token, [intAttribute('axis', 1), intAttribute('keepdims', 1), intAttribute('select_last_index', 0)]),
    ...node('LogSoftmax', p('masked'), p('logprobs'), [intAttribute('axis', 1)]),
    ...node('GatherElements', [p('logprobs'), F.token], F.logprob, [intAttribute('axis', 1)]),
    ...node('Add', [p('masked'), p('text_mask')], p('forced'), []),
    ...node('ArgMax', p('forced'), F.tokenForced, [intAttribute('axis', 1), intAttribute('keepdims', 1), intAttribute('select_last_index', 0)]),
    ...node('LogSoftmax', p('forced'), p('logprobs_forced'), [intAttribute('axis', 1)]),
    ...node('GatherElements', [p('logprobs_forced'), F.tokenForced], F.logprobForced, [intAttribute('axis', 1)]),
    ...node('Slice', [p('masked'), p('ts_start'), p('ts_end'), p('axis1')], F.timestampLogits, []),
    ...node('Slice', [p('masked'), p('zero'), p('ts_start'), p('axis1')], p('text'), []),
    // opset ≤ 17: ReduceMax takes its axes as an attribute (AttributeProto ints = 8, type INTS = 7)
    ...node('ReduceMax', p('text'), F.textMax, [msg(5, [...str(1, 'axes'), ...int(8, 1), ...int(20, 7)]), intAttribute('keepdims', 1)]),
    ...valueInfo(11, F.mask, 1, ['batch_size', vocabSize]),
    ...valueInfo(11, F.sotPosition, 7, ['batch_size', 1]),
    ...valueInfo(12, F.sotLogits, 1, ['batch_size', vocabSize]),
    ...valueInfo(12, F.lastLogits, 1, ['batch_size', vocabSize]),
    ...valueInfo(12, F.token, 7, ['batch_size', 1]),
    ...valueInfo(12, F.logprob, 1, ['batch_size', 1]),
    ...valueInfo(12, F.tokenForced, 7, ['batch_size', 1]),
    ...valueInfo(12, F.logprobForced, 1, ['batch_size', 1]),
    ...valueInfo(12, F.timestampLogits, 1, ['batch_size', vocabSize - tb]),
    ...valueInfo(12, F.textMax, 1, ['batch_size', 1]),
  ];
  const graphLength = graphEnd - graphStart + added.length;
  const header = [...key(7, 2), ...varint(graphLength)];
  const out = new Uint8Array(model.length - (graphStart - graphFieldStart) + header.length + added.length);
  let o = 0;
  out.set(model.subarray(0, graphFieldStart), o);
  o += graphFieldStart;
  out.set(header, o);
  o += header.length;
  out.set(model.subarray(graphStart, graphEnd), o);
  o += graphEnd - graphStart;
  out.set(added, o);
  o += added.length;
  out.set(model.subarray(graphEnd), o);
  return out;
}
