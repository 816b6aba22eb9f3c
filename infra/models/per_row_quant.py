#!/usr/bin/env python3
"""Batch-independent int8 Whisper graphs, made from the shipped int8 files (../shared/models) by graph surgery.

usage: per_row_quant.py --src SRC_MODELS_DIR --dest DEST_MODELS_DIR [--models whisper-tiny.en,whisper-base]
       (default: every folder of SRC_MODELS_DIR with both int8 graphs)

Why: the shipped files come from onnxruntime's quantize_dynamic (PROVENANCE.md beside them). Each weight matmul
and conv quantises its activation with DynamicQuantizeLinear, which computes ONE scale and zero point from the
min/max of the whole tensor (ONNX operator docs, DynamicQuantizeLinear: "y_scale = (maximum(0, max(x)) -
minimum(0, min(x))) / (qmax - qmin)"), batch dimension included. engine/batcher.ts puts windows of different jobs
into one run, so a loud batchmate widens the range, coarsens every other row's rounding and changes its text.

This script replaces every DynamicQuantizeLinear that feeds MatMulInteger/ConvInteger by quantisation whose
scale is computed from the row's own values only:

  MatMulInteger input x [..., T, K]:  per token (one scale per row of the matmul, over its K values)
  ConvInteger input x [B, C, L]:      per batch item (over its C x L values; a conv mixes positions, so the
                                      scale must be one per image, the granularity that keeps a conv exact)

  s  = max(|x|) / 127 over those values (a floor of 1e-30 so an all-zero row divides cleanly)
  xq = Cast<uint8>(Round(x / s) + 128)        zero point 128 for every row

Symmetric uint8 with the fixed zero point 128: onnxruntime's CPU MatMulInteger and its fused
MatMulIntegerToFloat / DynamicQuantizeMatMul accept only a scalar a_zero_point (matmul_integer.cc:
"MatmulInteger : input1 zero point must be a scalar or 1D tensor of size 1"; matmul_integer_to_float.cc:
"input a zero point must be a scalar ... Per-Channel is not supported yet"), while a per-row a_scale is applied
after the GEMM (ScaleOutput), so per-row scales with one shared zero point are what the CPU kernels take. The
node keeps its output names: the scale output becomes [..., T, 1] (or [B, 1, 1]) and the existing
Mul(x_scale, w_scale) and the Mul after Cast broadcast it; the zero point output becomes the constant 128.
onnxruntime-node 1.30 must load these graphs at graph optimization level "basic" (engine/node-loader.ts): at
"extended"/"all" its MatMulIntegerToFloat fusion mishandles the per-row scale (relative error against the fp32
graph 1.39 for the tiny.en encoder and 0.99 for the decoder's logits, against 0.096 and 0.034 at "basic").
Nothing else in the graph changes (weights, the Gather/DequantizeLinear embedding, the cross_attentions.*
outputs that ../shared/models/add_cross_attention_outputs.py added: the script checks they are kept).

Round is round-half-to-even (ONNX Round), |x / s| <= 127 so no clipping is needed.
Writes DEST/<model>/onnx/encoder_model_quantized.onnx and .../decoder_model_merged_quantized.onnx (the source's
names: engine/files.ts GRAPH_FILES.int8) and DEST/<model>/built-from.json: the sha256 and size of each source graph,
of each written graph, and of this script. A model whose manifest matches its sources, its outputs and this script
is not rebuilt (idempotent; infra/setup.sh runs this on every setup). engine/precision.ts checks the same
manifest before a worker loads the graphs. Needs onnx (1.17.0) and numpy (infra/models/per-row-models.sh).
"""
import argparse
import hashlib
import json
import os
import sys
import time

import numpy as np
import onnx
from onnx import TensorProto, helper, numpy_helper

from graph_walk import PatternError, all_graphs, file_id, refuse_inside_repository

MANIFEST = "built-from.json"
GRAPHS = ["onnx/encoder_model_quantized.onnx", "onnx/decoder_model_merged_quantized.onnx"]
ZERO_POINT = 128
QMAX = 127.0
FLOOR = 1e-30


def consumers_everywhere(model, value):
    return [n for g in all_graphs(model.graph) for n in g.node if value in n.input]


def rewrite(model):
    """Replaces each DynamicQuantizeLinear in place; returns {'per_token': n, 'per_item': n}."""
    counts = {"per_token": 0, "per_item": 0}
    consts_added = set()

    def const(graph, name, value, dtype):
        # Initializers of the main graph are visible in every subgraph (ONNX outer scope).
        if name not in consts_added:
            model.graph.initializer.append(numpy_helper.from_array(np.array(value, dtype=dtype), name))
            consts_added.add(name)
        return name

    for g in all_graphs(model.graph):
        for dql in [n for n in g.node if n.op_type == "DynamicQuantizeLinear"]:
            x = dql.input[0]
            xq, s, zp = dql.output
            users = {n.op_type for n in consumers_everywhere(model, xq)}
            if not users:
                continue  # dead node, left as it is (onnxruntime removes it)
            if users == {"MatMulInteger"}:
                axes, kind = [-1], "per_token"
            elif users == {"ConvInteger"}:
                axes, kind = None, "per_item"
            else:
                raise PatternError(f"{dql.name}: quantized output feeds {sorted(users)}")
            for n in consumers_everywhere(model, xq):
                if len(n.input) < 3 or n.input[2] != zp:
                    raise PatternError(f"{n.name}: does not take {zp} as a_zero_point")
            p = (dql.name or xq) + "_rowq"
            nodes = [helper.make_node("Abs", [x], [p + "_abs"], name=p + "_abs")]
            if axes is None:
                # [B, C, L] -> [B, 1, 1]: reduce everything but the batch axis (rank 3 for Whisper's convs)
                nodes.append(helper.make_node("ReduceMax", [p + "_abs"], [p + "_max"], name=p + "_max", axes=[1, 2], keepdims=1))
            else:
                nodes.append(helper.make_node("ReduceMax", [p + "_abs"], [p + "_max"], name=p + "_max", axes=axes, keepdims=1))
            nodes += [
                helper.make_node("Div", [p + "_max", const(g, "rowq_qmax", QMAX, np.float32)], [p + "_s0"], name=p + "_s0"),
                helper.make_node("Max", [p + "_s0", const(g, "rowq_floor", FLOOR, np.float32)], [s], name=p + "_scale"),
                helper.make_node("Div", [x, s], [p + "_div"], name=p + "_div"),
                helper.make_node("Round", [p + "_div"], [p + "_round"], name=p + "_round"),
                helper.make_node("Add", [p + "_round", const(g, "rowq_zp_f", float(ZERO_POINT), np.float32)], [p + "_shift"], name=p + "_shift"),
                helper.make_node("Cast", [p + "_shift"], [xq], name=p + "_cast", to=TensorProto.UINT8),
                # A Constant per node (not an Identity of one shared initializer): onnxruntime folds it into an
                # initializer under the same name, so subgraphs reading it by outer-scope name keep working.
                helper.make_node("Constant", [], [zp], name=p + "_zp",
                                 value=numpy_helper.from_array(np.array(ZERO_POINT, dtype=np.uint8), zp)),
            ]
            idx = list(g.node).index(dql)
            g.node.remove(dql)
            for k, n in enumerate(nodes):
                g.node.insert(idx + k, n)
            counts[kind] += 1
    # The scale outputs changed shape ([] -> [..., T, 1]); stale value_info would contradict onnxruntime's
    # own shape inference.
    for g in all_graphs(model.graph):
        del g.value_info[:]
    left = [n.name for g in all_graphs(model.graph) for n in g.node if n.op_type == "DynamicQuantizeLinear"
            and consumers_everywhere(model, n.output[0])]
    if left:
        raise PatternError(f"DynamicQuantizeLinear left: {left}")
    return counts


# This script and the module it imports: a change to either rebuilds the graphs.
TOOL_FILES = [os.path.abspath(__file__), os.path.join(os.path.dirname(os.path.abspath(__file__)), "graph_walk.py")]


def wanted_manifest(src_dir):
    return {
        "tool": "infra/models/per_row_quant.py",
        "tool_sha256": hashlib.sha256("".join(file_id(p)["sha256"] for p in TOOL_FILES).encode()).hexdigest(),
        "sources": {name: file_id(os.path.join(src_dir, name)) for name in GRAPHS},
    }


def up_to_date(dest_dir, wanted):
    try:
        with open(os.path.join(dest_dir, MANIFEST)) as f:
            have = json.load(f)
    except (OSError, ValueError):
        return False
    if {k: have.get(k) for k in wanted} != wanted:
        return False
    return all(os.path.exists(os.path.join(dest_dir, n)) and file_id(os.path.join(dest_dir, n)) == have["graphs"].get(n)
               for n in GRAPHS)


def convert(src_dir, dest_dir):
    wanted = wanted_manifest(src_dir)
    if up_to_date(dest_dir, wanted):
        print(f"{os.path.basename(src_dir)}: up to date in {dest_dir}", flush=True)
        return
    os.makedirs(os.path.join(dest_dir, "onnx"), exist_ok=True)
    manifest_path = os.path.join(dest_dir, MANIFEST)
    if os.path.exists(manifest_path):
        os.remove(manifest_path)  # a half-rebuilt folder has no manifest, so nothing loads it
    graphs = {}
    for name in GRAPHS:
        t0 = time.time()
        src = os.path.join(src_dir, name)
        model = onnx.load(src)
        outputs = [o.name for o in model.graph.output]
        counts = rewrite(model)
        if [o.name for o in model.graph.output] != outputs:
            raise PatternError(f"{src}: outputs changed")
        onnx.checker.check_model(model)
        out = os.path.join(dest_dir, name)
        tmp = out + ".tmp"
        onnx.save(model, tmp)
        os.replace(tmp, out)
        graphs[name] = file_id(out)
        cross = len([o for o in outputs if o.startswith("cross_attentions.")])
        print(f"{os.path.basename(src_dir)}/{name}: {counts}; kept {cross} cross_attentions outputs "
              f"({time.time() - t0:.1f} s)", flush=True)
    with open(manifest_path + ".tmp", "w") as f:
        json.dump({**wanted, "graphs": graphs}, f, indent=1)
    os.replace(manifest_path + ".tmp", manifest_path)


def main():
    ap = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    ap.add_argument("--src", required=True, help="models folder (WHISPER_MODELS_DIR, e.g. ../shared/models)")
    ap.add_argument("--dest", required=True, help="folder to write (outside the repository)")
    ap.add_argument("--models", default="", help="comma-separated model folders; default: all with int8 graphs")
    args = ap.parse_args()
    refuse_inside_repository(args.dest)
    models = [m for m in args.models.split(",") if m] or sorted(
        m for m in os.listdir(args.src) if all(os.path.exists(os.path.join(args.src, m, g)) for g in GRAPHS))
    for m in models:
        try:
            convert(os.path.join(args.src, m), os.path.join(args.dest, m))
        except PatternError as e:
            sys.exit(f"{m}: {e}")


if __name__ == "__main__":
    main()
