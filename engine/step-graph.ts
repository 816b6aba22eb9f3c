/**
 * One onnxruntime run per decoder step: the decoding rules and the greedy pick appended to the merged decoder's
 * graph, so a cached step fetches only each row's next token and its log-probability (and the KV cache), never the
 * [batch, vocab] logits row (207 KB per row for 51,864 float32 entries) that a second run of a pick graph took.
 *
 * Appended nodes (default-domain ops valid from opset 12 on; the shipped decoders import opset 14), on the top-level
 * `logits` output [batch, seq, vocab] of optimum's merged decoder (the output of its `If`):
 *  1. the last position: Gather(logits, -1, axis 1) → [batch, vocab];
 *  2. the rules that depend only on the tokens sampled so far (decoding.ts applySuppressionRules): the input
 *     `suppress_mask` float32 [batch, vocab] of 0 / -inf (decoding.ts suppressionMask) is added → `masked`;
 *  3. openai/whisper decoding.py ApplyTimestampRules' forcing rule, float32 as openai computes it:
 *     `timestamp_logprob = logprobs[k, tb:].logsumexp(); max_text_token_logprob = logprobs[k, :tb].max();
 *     if timestamp_logprob > max_text_token_logprob: logits[k, :tb] = -inf`. Both sides are log-softmax values of
 *     one row and share its normaliser, so the graph compares the timestamps' log-sum-exp with the largest text
 *     logit in logit space;
 *  4. the pick of pick.ts' former greedy graph: the first largest entry (as torch's argmax; TopK k = 1, see
 *     {@link topK}) → `token` int64 [batch, 1]; the LogSoftmax (float32, as decoding.py's
 *     `F.log_softmax(logits.float())`) of the processed row at that token → `logprob` float32 [batch, 1].
 * 3 and 4 without building the processed row (every pass over [batch, vocab] costs ~10-35 µs per row here):
 * token0 = the first largest entry of `masked`, its logit and log-softmax; over the timestamps alone (1501 entries)
 * their first largest, its logit and its log-softmax among them, and from those two their log-sum-exp (logit −
 * log-softmax). If token0 is a timestamp every text logit is below it and so below that log-sum-exp: forced. If it is
 * text, its logit is the largest text logit: forced when the log-sum-exp is greater. Forced: the timestamps' first
 * largest and log-softmax among themselves (the processed row's text is -inf, so its log-softmax is theirs, up to
 * float32 summation order: ~1e-7); else token0 and the masked row's log-softmax, which is the processed row's. When
 * every timestamp is -inf their log-softmax is NaN, Greater is false and nothing is forced, as decoding.ts
 * timestampLogSumExp's null.
 *
 * How the nodes are appended without an ONNX parser: a protobuf parser merges a singular embedded message field that
 * occurs twice and concatenates repeated fields (protobuf encoding spec, "Last One Wins" / merging of embedded
 * messages). So the decoder file's bytes followed by one more ModelProto `graph` field (7) holding only the new
 * nodes (GraphProto.node = 1), the new input (11) and outputs (12) parse as the decoder's graph with the nodes added.
 * onnxruntime (node and web: the same C++ loader) parses them so; nothing else of the decoder changes, and its
 * existing outputs (`logits`, `present.*`, `cross_attentions.*`) are computed as before.
 *
 * 5. with `layers` given, each self-attention cache output's last position: Gather(present.{l}.decoder.{key,value}, -1,
 *    axis 2) → {@link stepKvName} float32 [batch, heads, head_dim], the key and value of the token just fed. A cached
 *    step fetches these instead of the whole present.* (model.ts decode appends them to its own copy of the cache):
 *    onnxruntime-node copies every fetched output into a new ArrayBuffer, and the whole self-attention cache, fetched
 *    every step, was most of the allocations that started V8's collections and their finalizers in the engine thread
 *    (tiny.en: 8 × [1, 6, t, 64] float32 per step, ~0.5 MB at t = 40; base 12 × [1, 8, t, 64]).
 *
 * onnxruntime runs every node of a graph whatever the fetches name, so every decoder run (detectLanguage and
 * alignmentPass too) must feed `suppress_mask`; a [1, 1] zero mask broadcasts (see {@link NO_MASK_DIMS}).
 * Browser-safe.
 */
import { int, intAttribute, key, msg, node, str, valueInfo } from './pick';

/** The fused decoder's added input: float32 [batch, vocab] (or [1, 1] when the pick is not read), entries 0 or -inf. */
export const SUPPRESS_MASK = 'suppress_mask';
/** The fused decoder's added outputs: int64 [batch, 1] and float32 [batch, 1]. */
export const STEP_TOKEN = 'token';
export const STEP_LOGPROB = 'logprob';
/** A `suppress_mask` that changes nothing, for runs that read only the decoder's own outputs. */
export const NO_MASK_DIMS = [1, 1] as const;

/**
 * The step graph's output holding the last position of a self-attention cache output (see the top of this file).
 * @param present a merged decoder's `present.{l}.decoder.{key|value}` output name
 */
export const stepKvName = (present: string) => `last.${present}`;

/** Signed varint (int64 two's complement; a negative number takes 10 bytes). */
function varint64(n: number): number[] {
  let v = BigInt.asUintN(64, BigInt(n));
  const out: number[] = [];
  while (v > 127n) {
    out.push(Number(v & 127n) | 128);
    v >>= 7n;
  }
  out.push(Number(v));
  return out;
}
/** AttributeProto{name = 1, i = 3, type = 20 (INT = 2)} for a possibly negative value. */
const signedIntAttribute = (name: string, v: number) => msg(5, [...str(1, name), ...key(3, 0), ...varint64(v), ...int(20, 2)]);
/** AttributeProto{name = 1, ints = 8, type = 20 (INTS = 7)}, non-negative values. */
const intsAttribute = (name: string, vs: number[]) => msg(5, [...str(1, name), ...vs.flatMap((v) => int(8, v)), ...int(20, 7)]);
/**
 * NodeProto of TopK (axis 1, largest, sorted) with its two outputs: the k largest values and their indices. ONNX TopK
 * (opset 11+): "the element with the lower index will appear first" among equal values, so k = 1 is torch.argmax's
 * first largest index (ArgMax with select_last_index 0), with its value. onnxruntime's CPU TopK with k = 1 took 15 µs
 * per 51,864-entry row where ArgMax took 47 (this machine, one thread).
 */
const topK = (input: string, k: string, values: string, indices: string) =>
  msg(1, [...str(1, input), ...str(1, k), ...str(2, values), ...str(2, indices), ...str(3, indices), ...str(4, 'TopK'), ...intAttribute('axis', 1)]);

/** Names of the appended intermediate values, prefixed so they cannot meet the decoder's own. */
const P = 'fairscribe_step/';

/**
 * The bytes of a ModelProto `graph` field (7) that, appended to a merged decoder's file, adds the nodes described
 * at the top of this file.
 * @param timestampBegin the first timestamp token's id (<|0.00|>: 50363 for English-only models, 50364 multilingual)
 * @param layers the decoder's layer count (config.json decoder_layers): adds the self-attention caches' last positions
 *   (5. above); 0 adds none
 */
export function stepGraphField(timestampBegin: number, layers = 0): Uint8Array {
  const kv = Array.from({ length: layers }, (_, l) => ['key', 'value'].map((k) => `present.${l}.decoder.${k}`)).flat();
  const BIG = 2 ** 30; // a Slice end past any vocabulary (Slice clamps it)
  const graph = [
    // the last position, masked: [batch, vocab]
    ...node('Constant', [], `${P}last_index`, [signedIntAttribute('value_int', -1)]),
    ...node('Gather', ['logits', `${P}last_index`], `${P}last`, [intAttribute('axis', 1)]),
    ...node('Add', [`${P}last`, SUPPRESS_MASK], `${P}masked`, []),
    // the pick without the forcing rule: the first largest entry, its logit and its log-softmax
    ...node('Constant', [], `${P}one`, [intsAttribute('value_ints', [1])]),
    ...topK(`${P}masked`, `${P}one`, `${P}logit0`, `${P}token0`),
    ...node('LogSoftmax', `${P}masked`, `${P}logprobs`, [intAttribute('axis', 1)]),
    ...node('GatherElements', [`${P}logprobs`, `${P}token0`], `${P}logprob0`, [intAttribute('axis', 1)]),
    // the timestamps alone [batch, vocab - tb]: their first largest entry, its log-softmax among them, their log-sum-exp
    ...node('Constant', [], `${P}tb`, [intsAttribute('value_ints', [timestampBegin])]),
    ...node('Constant', [], `${P}end`, [intsAttribute('value_ints', [BIG])]),
    ...node('Constant', [], `${P}axis1`, [intsAttribute('value_ints', [1])]),
    ...node('Slice', [`${P}masked`, `${P}tb`, `${P}end`, `${P}axis1`], `${P}timestamps`, []),
    ...topK(`${P}timestamps`, `${P}one`, `${P}ts_max`, `${P}ts_index`),
    ...node('LogSoftmax', `${P}timestamps`, `${P}ts_logprobs`, [intAttribute('axis', 1)]),
    ...node('GatherElements', [`${P}ts_logprobs`, `${P}ts_index`], `${P}ts_logprob`, [intAttribute('axis', 1)]),
    ...node('Sub', [`${P}ts_max`, `${P}ts_logprob`], `${P}ts_lse`, []),
    // forced: the timestamps' log-sum-exp beats the largest text logit. When token0 is text, logit0 is the largest text
    // logit; when it is a timestamp, every text logit is below it and so below the log-sum-exp (forced either way).
    ...node('Constant', [], `${P}tb_scalar`, [signedIntAttribute('value_int', timestampBegin)]),
    ...node('GreaterOrEqual', [`${P}token0`, `${P}tb_scalar`], `${P}token0_is_ts`, []),
    ...node('Greater', [`${P}ts_lse`, `${P}logit0`], `${P}ts_beats_text`, []),
    ...node('Or', [`${P}token0_is_ts`, `${P}ts_beats_text`], `${P}force`, []),
    ...node('Add', [`${P}ts_index`, `${P}tb_scalar`], `${P}ts_token`, []),
    ...node('Where', [`${P}force`, `${P}ts_token`, `${P}token0`], STEP_TOKEN, []),
    ...node('Where', [`${P}force`, `${P}ts_logprob`, `${P}logprob0`], STEP_LOGPROB, []),
    // the token just fed, per self-attention cache: its last position (a scalar index drops the axis)
    ...kv.flatMap((name) => node('Gather', [name, `${P}last_index`], stepKvName(name), [intAttribute('axis', 2)])),
    ...valueInfo(11, SUPPRESS_MASK, 1, ['mask_rows', 'mask_vocab']),
    ...valueInfo(12, STEP_TOKEN, 7, ['batch_size', 1]),
    ...valueInfo(12, STEP_LOGPROB, 1, ['batch_size', 1]),
    ...kv.flatMap((name) => valueInfo(12, stepKvName(name), 1, ['batch_size', `${P}heads`, `${P}head_dim`])),
  ];
  return Uint8Array.from(msg(7, graph));
}

/**
 * A merged decoder's ONNX bytes with the step graph appended (see the top of this file), for
 * `InferenceSession.create(bytes)`. Copies `decoder` once.
 * @param decoder the whole file of an optimum merged decoder (`decoder_model_merged*.onnx`, no external data)
 * @param timestampBegin see {@link stepGraphField}
 * @param layers see {@link stepGraphField}
 */
export function fusedDecoderBytes(decoder: Uint8Array, timestampBegin: number, layers = 0): Uint8Array {
  const tail = stepGraphField(timestampBegin, layers);
  const out = new Uint8Array(decoder.length + tail.length);
  out.set(decoder, 0);
  out.set(tail, decoder.length);
  return out;
}
