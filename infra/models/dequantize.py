#!/usr/bin/env python3
"""Float Whisper graphs for GPU workers, made from the shipped int8 files (../shared/models) by graph surgery.

usage: dequantize.py --src SRC_MODELS_DIR --dest DEST_MODELS_DIR [--models whisper-tiny.en,whisper-base]
                     [--fp16 | --no-fp16]

Why: the int8 files come from onnxruntime's dynamic quantization (quantize_dynamic, weight_type QUInt8 for the
encoder, QInt8 for the merged decoder; PROVENANCE.md beside them). Their MatMulInteger, ConvInteger and
DynamicQuantizeLinear nodes have no CUDA kernels in onnxruntime, so a GPU worker on them would run on the CPU.
This script undoes the quantization exactly where it was done:

  DynamicQuantizeLinear(x) -> (x_q, x_scale, x_zp)
  MatMulInteger(x_q, W_q, x_zp, W_zp) -> Cast(to float) -> Mul(., x_scale * W_scale)       becomes MatMul(x, W)
  ConvInteger(x_q, W_q, x_zp, W_zp)   -> Cast(to float) -> Mul(., x_scale * W_scale)       becomes Conv(x, W)
  Gather(E_q, ids) -> DequantizeLinear(., E_scale, E_zp)                                   becomes Gather(E, ids)

with W = (W_q - W_zp) * W_scale computed once per weight initializer (the dequantization formula of ONNX's
DequantizeLinear; the scales are those quantize_dynamic stored, so W is the weight the int8 file represents,
not the original fp16 checkpoint: the text equals the int8 model's up to the activation rounding that dynamic
quantization adds). A node pattern other than the above is an error (nothing is guessed). Everything else, the
`cross_attentions.*` outputs that ../shared/models/add_cross_attention_outputs.py appended included, is kept as
it is; the script checks those outputs are still there.

Writes, per model, DEST/<model>/ with the tokenizer/config files copied, the int8 graphs copied (so the folder
serves any process: CPU workers and the privacy-mode page read the int8 files), and
  onnx/encoder_model.onnx, onnx/decoder_model_merged.onnx            fp32
  onnx/encoder_model_fp16.onnx, onnx/decoder_model_merged_fp16.onnx  fp16 (--fp16, the default)
The fp16 graphs run the weight matmuls, convs and the embedding lookup (where the GPU time and the memory are)
on fp16 weights, and keep fp32 everything whose range fp16 does not hold: the LayerNorm variance chain (squares of
activations overflow fp16's 65504), Softmax, GELU, the attention-score matmuls; inputs and outputs stay fp32
(see to_fp16). Both are checked on the CPU by bench/float-models.ts (same text as int8).

Layout = WHISPER_MODELS_DIR (engine/files.ts GRAPH_FILES); never write it into the repository.
Needs: onnx (1.17.0 used) and numpy (infra/models/float-models.sh makes the venv).
"""
import argparse
import os
import shutil
import sys
import time

import numpy as np
import onnx
from onnx import TensorProto, helper, numpy_helper

from graph_walk import PatternError, all_graphs, refuse_inside_repository

INT8_ENCODER = "onnx/encoder_model_quantized.onnx"
INT8_DECODER = "onnx/decoder_model_merged_quantized.onnx"
FLOAT_NAMES = {
    INT8_ENCODER: ("onnx/encoder_model.onnx", "onnx/encoder_model_fp16.onnx"),
    INT8_DECODER: ("onnx/decoder_model_merged.onnx", "onnx/decoder_model_merged_fp16.onnx"),
}
COPIED = [
    "config.json", "generation_config.json", "tokenizer.json", "tokenizer_config.json", "preprocessor_config.json",
    "special_tokens_map.json", "added_tokens.json", "vocab.json", "merges.txt", "normalizer.json",
    INT8_ENCODER, INT8_DECODER,
]


class Surgeon:
    """Dequantizes one model in place. Values are scoped like ONNX scopes them: a subgraph (If branch) sees
    its own values and, by name, those of the graphs around it; the two branches reuse the same local names."""

    def __init__(self, model):
        self.model = model
        self.main = model.graph
        self.graphs = list(all_graphs(self.main))
        self.parent = {}
        self.nested = {}  # id(graph) -> graphs inside it, itself included
        for g in self.graphs:
            self.nested[id(g)] = list(all_graphs(g))
            for sub in self.nested[id(g)][1:]:
                self.parent.setdefault(id(sub), g)
        self.inits = {}
        for g in self.graphs:
            for init in g.initializer:
                self.inits[init.name] = init
        self.float_weights = {}  # (quantized initializer, zero point, scale) -> float initializer name
        self.replaced = {"MatMulInteger": 0, "ConvInteger": 0, "DequantizeLinear": 0}

    def producer(self, graph, value):
        """(graph, node) producing `value` as seen from `graph`: its own nodes first, then the outer graphs."""
        g = graph
        while g is not None:
            for n in g.node:
                if value in n.output:
                    return g, n
            g = self.parent.get(id(g))
        return None

    def consumers(self, graph, value):
        return [n for n in graph.node if value in n.input]

    def array(self, name):
        if name not in self.inits:
            raise PatternError(f"{name} is not an initializer")
        return numpy_helper.to_array(self.inits[name])

    def float_weight(self, q_name, zp_name, scale_name):
        """(q - zp) * scale as a float32 initializer in the main graph, once per quantized weight."""
        key = (q_name, zp_name, scale_name)
        if key in self.float_weights:
            return self.float_weights[key]
        q = self.array(q_name).astype(np.int32)
        zp = self.array(zp_name).astype(np.int32)
        scale = self.array(scale_name).astype(np.float32)
        if zp.size != 1 or scale.size != 1:
            # per_channel=False in PROVENANCE.md: one scale and zero point per tensor. Per-channel would need the
            # channel axis to broadcast along; refuse rather than guess it.
            raise PatternError(f"{q_name}: per-channel quantization (scale {scale.shape}) is not handled")
        w = ((q - zp.reshape(())) .astype(np.float32) * scale.reshape(())).astype(np.float32)
        name = q_name[: -len("_quantized")] if q_name.endswith("_quantized") else q_name + "_dequantized"
        if name in self.inits:
            name = q_name + "_dequantized"
        self.main.initializer.append(numpy_helper.from_array(w, name))
        self.inits[name] = self.main.initializer[-1]
        self.float_weights[key] = name
        return name

    def only_consumer(self, graph, value, op_type):
        cons = self.consumers(graph, value)
        if len(cons) != 1 or cons[0].op_type != op_type:
            raise PatternError(f"{value} should feed exactly one {op_type}, feeds {[c.op_type for c in cons]}")
        return cons[0]

    def float_source(self, graph, q, zp, scales):
        """The float tensor `q` was quantized from: the input of its DynamicQuantizeLinear, or the dequantized
        initializer. `scales` are the two inputs of the scale-product Mul; the one belonging to `q` is used."""
        prod = self.producer(graph, q)
        if prod is not None and prod[1].op_type == "DynamicQuantizeLinear":
            dql = prod[1]
            if dql.output[0] != q or dql.output[2] != zp or dql.output[1] not in scales:
                raise PatternError(f"{q}: DynamicQuantizeLinear outputs do not match the scale product")
            return dql.input[0]
        if q in self.inits:
            own = [s for s in scales if s in self.inits]
            if len(own) != 1:
                raise PatternError(f"{q}: expected one initializer scale among {scales}")
            return self.float_weight(q, zp, own[0])
        raise PatternError(f"{q}: neither dynamically quantized nor an initializer")

    def replace_integer_op(self, graph, node):
        a_q, b_q, a_zp, b_zp = (list(node.input) + ["", "", "", ""])[:4]
        if not a_zp or not b_zp:
            raise PatternError(f"{node.name}: zero points missing")
        cast = self.only_consumer(graph, node.output[0], "Cast")
        to = next(a.i for a in cast.attribute if a.name == "to")
        if to != TensorProto.FLOAT:
            raise PatternError(f"{cast.name}: casts to {to}, not float")
        mul = self.only_consumer(graph, cast.output[0], "Mul")
        scale_product = [i for i in mul.input if i != cast.output[0]]
        if len(scale_product) != 1:
            raise PatternError(f"{mul.name}: unexpected inputs {list(mul.input)}")
        sp = self.producer(graph, scale_product[0])
        if sp is None or sp[1].op_type != "Mul":
            raise PatternError(f"{mul.name}: scale product is not a Mul")
        scales = list(sp[1].input)
        a = self.float_source(graph, a_q, a_zp, scales)
        b = self.float_source(graph, b_q, b_zp, scales)
        op = "MatMul" if node.op_type == "MatMulInteger" else "Conv"
        new = helper.make_node(op, [a, b], [mul.output[0]], name=(node.name or mul.output[0]) + "_float")
        if op == "Conv":
            new.attribute.extend(node.attribute)  # pads, strides, dilations, group, kernel_shape
        # The float node takes the Mul's place (keeps topological order: its inputs exist before the Mul).
        idx = list(graph.node).index(mul)
        graph.node.insert(idx, new)
        for dead in (node, cast, mul):
            graph.node.remove(dead)
        self.replaced[node.op_type] += 1

    def replace_gather_dequantize(self, graph, dq):
        """Gather(E_q, ids) -> DequantizeLinear(., s, zp)  becomes  Gather(E, ids)."""
        prod = self.producer(graph, dq.input[0])
        if prod is None or prod[1].op_type != "Gather" or prod[1].input[0] not in self.inits:
            raise PatternError(f"{dq.name}: DequantizeLinear not after a Gather of an initializer")
        gather_graph, gather = prod
        if len(self.consumers(gather_graph, gather.output[0])) != 1:
            raise PatternError(f"{gather.name}: quantized Gather output used elsewhere")
        table = self.float_weight(gather.input[0], dq.input[2], dq.input[1])
        new = helper.make_node("Gather", [table, gather.input[1]], [dq.output[0]], name=gather.name + "_float")
        new.attribute.extend(gather.attribute)
        idx = list(graph.node).index(dq)
        graph.node.insert(idx, new)
        graph.node.remove(dq)
        gather_graph.node.remove(gather)
        self.replaced["DequantizeLinear"] += 1

    def run(self):
        for g in self.graphs:
            for node in [n for n in g.node if n.op_type in ("MatMulInteger", "ConvInteger")]:
                self.replace_integer_op(g, node)
            for node in [n for n in g.node if n.op_type == "DequantizeLinear"]:
                self.replace_gather_dequantize(g, node)
        self.remove_dead()
        left = sorted({n.op_type for g in self.graphs for n in g.node} & {
            "MatMulInteger", "ConvInteger", "DynamicQuantizeLinear", "DequantizeLinear", "QuantizeLinear"})
        if left:
            raise PatternError(f"quantized ops left after surgery: {left}")
        return self.replaced

    def remove_dead(self):
        """Drops nodes whose outputs nobody reads (the DynamicQuantizeLinear and scale Muls) and unused
        initializers, iterating until nothing changes. A value of graph g is read by g's nodes, the graphs nested
        in g (outer-scope references) and g's outputs."""

        def used_in(g):
            used = {o.name for o in g.output}
            for sub in self.nested[id(g)]:
                for n in sub.node:
                    used.update(n.input)
            return used

        while True:
            removed = 0
            for g in self.graphs:
                used = used_in(g)
                for n in list(g.node):
                    if n.op_type != "If" and not any(o in used for o in n.output if o):
                        g.node.remove(n)
                        removed += 1
            if not removed:
                break
        used = used_in(self.main)
        for g in self.graphs:
            for init in list(g.initializer):
                if init.name not in used:
                    g.initializer.remove(init)


def check_outputs_kept(before, after, path):
    b = [o.name for o in before.graph.output]
    a = [o.name for o in after.graph.output]
    if a != b:
        raise PatternError(f"{path}: outputs changed: {b} -> {a}")
    return [n for n in a if n.startswith("cross_attentions.")]


def to_fp16(model):
    """fp16 where it is safe and where the time is: every MatMul/Conv with a weight initializer and the embedding
    Gather run on fp16 weights (Cast of the activation in, Cast of the result back to fp32); LayerNorm, Softmax,
    GELU, the attention score matmuls and everything else stay fp32. The graph's inputs and outputs stay fp32,
    so the engine feeds it exactly as the other graphs. A hand-written pass rather than
    onnxconverter-common's convert_float_to_float16: that one renames values across the merged decoder's If
    branches and produces a graph onnxruntime refuses ("subgraph output is an outer scope value")."""
    main = model.graph
    inits = {i.name: i for g in all_graphs(main) for i in g.initializer}
    half = {}

    def fp16_init(name):
        if name not in half:
            arr = numpy_helper.to_array(inits[name])
            if np.abs(arr).max() > 65504:
                raise PatternError(f"{name}: weights exceed the fp16 range")
            half[name] = name + "_fp16"
            main.initializer.append(numpy_helper.from_array(arr.astype(np.float16), half[name]))
        return half[name]

    def is_float_init(name):
        return name in inits and inits[name].data_type == TensorProto.FLOAT

    count = 0
    for g in all_graphs(main):
        for node in list(g.node):
            if node.op_type in ("MatMul", "Conv") and len(node.input) >= 2 and is_float_init(node.input[1]):
                weight_inputs = [1] + ([2] if node.op_type == "Conv" and len(node.input) > 2 and node.input[2] else [])
                act_index = 0
            elif node.op_type == "Gather" and is_float_init(node.input[0]):
                weight_inputs, act_index = [0], None
            else:
                continue
            idx = list(g.node).index(node)
            new_inputs = list(node.input)
            before = []
            if act_index is not None:
                cast_in = node.input[act_index] + f"_to_fp16_{count}"
                before.append(helper.make_node("Cast", [node.input[act_index]], [cast_in], to=TensorProto.FLOAT16, name=cast_in))
                new_inputs[act_index] = cast_in
            for i in weight_inputs:
                new_inputs[i] = fp16_init(node.input[i])
            out = node.output[0]
            out16 = out + "_fp16"
            half_node = helper.make_node(node.op_type, new_inputs, [out16], name=(node.name or out) + "_fp16")
            half_node.attribute.extend(node.attribute)
            cast_out = helper.make_node("Cast", [out16], [out], to=TensorProto.FLOAT, name=out16 + "_to_fp32")
            g.node.remove(node)
            for k, n in enumerate(before + [half_node, cast_out]):
                g.node.insert(idx + k, n)
            count += 1
    # Drop the fp32 weights nobody reads any more.
    used = {i for g in all_graphs(main) for n in g.node for i in n.input}
    for g in all_graphs(main):
        for init in list(g.initializer):
            if init.name not in used:
                g.initializer.remove(init)
    # Shapes of the rewritten values are re-derived by onnxruntime; stale value_info types would contradict them.
    for g in all_graphs(main):
        del g.value_info[:]
    return model


def convert_model(src_dir, dest_dir, fp16):
    os.makedirs(os.path.join(dest_dir, "onnx"), exist_ok=True)
    for f in COPIED:
        s = os.path.join(src_dir, f)
        if os.path.exists(s):
            shutil.copyfile(s, os.path.join(dest_dir, f))
    for int8_name, (fp32_name, fp16_name) in FLOAT_NAMES.items():
        t0 = time.time()
        src = os.path.join(src_dir, int8_name)
        original = onnx.load(src)
        model = onnx.load(src)
        replaced = Surgeon(model).run()
        cross = check_outputs_kept(original, model, src)
        onnx.checker.check_model(model)
        out32 = os.path.join(dest_dir, fp32_name)
        onnx.save(model, out32)
        line = (f"{os.path.basename(src_dir)}/{int8_name}: replaced {replaced}; kept {len(cross)} cross_attentions outputs; "
                f"fp32 {os.path.getsize(out32):,} B")
        if fp16:
            m16 = to_fp16(model)
            check_outputs_kept(original, m16, src)
            onnx.checker.check_model(m16)
            out16 = os.path.join(dest_dir, fp16_name)
            onnx.save(m16, out16)
            line += f", fp16 {os.path.getsize(out16):,} B"
        print(f"{line} ({time.time() - t0:.1f} s)", flush=True)


def main():
    here = os.path.dirname(os.path.abspath(__file__))
    ap = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    ap.add_argument("--src", default=os.path.normpath(os.path.join(here, "..", "..", "..", "shared", "models")))
    ap.add_argument("--dest", required=True, help="models folder to write (outside the repository)")
    ap.add_argument("--models", default="whisper-tiny.en,whisper-base")
    ap.add_argument("--fp16", action=argparse.BooleanOptionalAction, default=True)
    args = ap.parse_args()
    refuse_inside_repository(args.dest)
    for m in [x for x in args.models.split(",") if x]:
        try:
            convert_model(os.path.join(args.src, m), os.path.join(args.dest, m), args.fp16)
        except PatternError as e:
            sys.exit(f"{m}: {e}")


if __name__ == "__main__":
    main()
