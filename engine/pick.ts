/**
 * Small ONNX graphs built as protobuf bytes (field numbers from onnx/onnx.proto) so no model file is added: the
 * word-timestamp pass's text-token probabilities (a Softmax + GatherElements model), and the writers step-graph.ts
 * uses to append the decoding rules and the greedy pick to the decoder's own graph.
 *
 * Why graphs and not JS: a softmax needs one exp per vocabulary entry (51,864) per row; JS's Math.exp costs ~0.5 ms
 * per row on this machine's cores, onnxruntime's vectorised kernel (MLAS) ~0.05 ms.
 * Browser-safe (onnxruntime-web runs them too).
 */

const utf8 = new TextEncoder();

/** Protobuf wire-format writers for the ONNX messages built here (and by step-graph.ts). */
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
export const intAttribute = (name: string, v: number) => msg(5, [...str(1, name), ...int(3, v), ...int(20, 2)]);
/** NodeProto{input = 1, output = 2, name = 3, op_type = 4, attribute = 5} */
export const node = (op: string, input: string | string[], output: string, attrs: number[][]) =>
  msg(1, [...[input].flat().flatMap((i) => str(1, i)), ...str(2, output), ...str(3, output), ...str(4, op), ...attrs.flat()]);
/**
 * ValueInfoProto{name = 1, type = 2: TypeProto{tensor_type = 1: {elem_type = 1, shape = 2: {dim = 1: {dim_value = 1 | dim_param = 2}}}}}
 * @param elem TensorProto.DataType: FLOAT = 1, INT64 = 7
 */
export function valueInfo(field: number, name: string, elem: number, dims: (number | string)[]): number[] {
  const shape = dims.flatMap((d) => msg(1, typeof d === 'number' ? int(1, d) : str(2, d)));
  return msg(field, [...str(1, name), ...msg(2, msg(1, [...int(1, elem), ...msg(2, shape)]))]);
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
