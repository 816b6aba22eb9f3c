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

/** Protobuf wire-format writers for the ONNX messages built here. */
function varint(n: number): number[] {
  const out: number[] = [];
  while (n > 127) {
    out.push((n & 127) | 128);
    n = Math.floor(n / 128);
  }
  out.push(n);
  return out;
}
/** protobuf wire types: 0 varint, 2 length-delimited */
const key = (field: number, wire: number) => varint(field * 8 + wire);
const int = (field: number, n: number) => [...key(field, 0), ...varint(n)];
const msg = (field: number, b: readonly number[]) => [...key(field, 2), ...varint(b.length), ...b];
const str = (field: number, s: string) => msg(field, [...utf8.encode(s)]);

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
