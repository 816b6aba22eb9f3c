#!/usr/bin/env python3
"""Whisper graphs with the ORIGINAL (CTranslate2 float16) weights put back into the shipped graph structure.

usage: ct2_graphs.py --src SRC_MODELS_DIR --ct2 CT2_DIR --dest DEST_DIR [--models whisper-tiny.en,whisper-base]
                     [--check]

Why (issue #17, the telephone and 30-s-pause rows): the shipped int8 files (PROVENANCE.md beside them) were made by
`quantize_dynamic(per_channel=False)`, one scale per weight TENSOR, while faster-whisper runs CTranslate2
`compute_type="int8"` on the same CT2 weights with one scale per weight ROW (CTranslate2 quantizes each output row
of a Linear weight on its own absmax: ctranslate2/src/ops/quantize.cc, "per-row" scales). infra/models/dequantize.py
undoes only the graph structure, so its float graphs carry the same per-tensor rounding error. Here every quantized
weight initializer of the shipped graph is replaced by the CT2 tensor it was quantized from:

  1. model.bin is parsed (CTranslate2 binary format v6: ctranslate2/specs/model_spec.py `_serialize`; the same
     reader as the conversion script that made the shipped files) into float32 arrays (fp16 -> fp32 is exact).
  2. Candidates: every CT2 weight of rank >= 2, whole and split along its rows into 2 and 3 equal parts (the fused
     self-attention q/k/v and cross-attention k/v of ctranslate2/converters/transformers.py), as stored and
     transposed (an ONNX MatMul weight is [in, out], a CT2 Linear weight [out, in]).
  3. For each quantized initializer q (with its zero point zp and scale s, per tensor) the candidate C of the same
     shape whose re-quantization round(C / s) + zp (clipped) reproduces q is taken. Nothing is guessed: it must
     match at least 99.5 % of the values exactly and every value within 1 (the source quantizer may round a
     half differently), and no other candidate may come close; otherwise the script stops.
  4. The graph is then rewritten to float exactly as dequantize.py does (its Surgeon: MatMulInteger/ConvInteger/
     Gather+DequantizeLinear become MatMul/Conv/Gather), with C instead of (q - zp) * s. Biases, LayerNorms and
     positions were never quantized (float32 copies of the fp16 checkpoint) and stay as they are. The
     `cross_attentions.*` outputs are kept (checked).

Writes DEST/<model>/onnx/
  encoder_model.onnx, decoder_model_merged.onnx                       fp32, the CT2 weights ("ct2-fp32")
  encoder_model_quantized.onnx, decoder_model_merged_quantized.onnx   int8 from those, `quantize_dynamic` with the
      shipped options except per_channel=True (one scale per output column of each MatMul weight, i.e. per CT2 row;
      the two convs stay per tensor: onnxruntime's ConvInteger quantizer has no per-channel path) ("ct2-int8")
and DEST/<model>/built-from.json (sha256 + size of model.bin, of the source graphs, of this script and of every
written graph). A model whose manifest matches is not rebuilt. engine/precision.ts checks the manifest before a
worker loads the graphs. Needs onnx 1.17.0, onnxruntime 1.20.1 (quantization tools), numpy (ct2-models.sh).
"""
import argparse
import json
import os
import struct
import sys
import tempfile
import time

import numpy as np
import onnx
from onnx import numpy_helper

sys.path.insert(0, os.path.dirname(os.path.abspath(__file__)))
import dequantize  # noqa: E402  (the graph surgery, shared)
import graph_walk  # noqa: E402  (file_id, refuse_inside_repository; dequantize imports it too)
from graph_walk import file_id, refuse_inside_repository  # noqa: E402

MANIFEST = "built-from.json"
INT8 = ["onnx/encoder_model_quantized.onnx", "onnx/decoder_model_merged_quantized.onnx"]
FP32 = {INT8[0]: "onnx/encoder_model.onnx", INT8[1]: "onnx/decoder_model_merged.onnx"}
# weight types of the shipped files (PROVENANCE.md step 4): QUInt8 for the encoder (ConvInteger), QInt8 decoder
WEIGHT_TYPE = {INT8[0]: "QUInt8", INT8[1]: "QInt8"}
CT2_DTYPES = {0: np.float32, 1: np.int8, 2: np.int16, 3: np.int32, 4: np.float16}


def read_ct2(path):
    """{name: float32 array} of a CTranslate2 model.bin (binary version 6; ctranslate2/specs/model_spec.py)."""
    def rd_str(f):
        n, = struct.unpack("<H", f.read(2))
        return f.read(n)[:-1].decode("utf-8")

    out = {}
    with open(path, "rb") as f:
        version, = struct.unpack("<I", f.read(4))
        if version != 6:
            raise ValueError(f"{path}: CTranslate2 binary version {version}, expected 6")
        rd_str(f)
        f.read(4)
        nvars, = struct.unpack("<I", f.read(4))
        for _ in range(nvars):
            name = rd_str(f)
            rank, = struct.unpack("<B", f.read(1))
            shape = struct.unpack("<%dI" % rank, f.read(4 * rank))
            dtype, = struct.unpack("<B", f.read(1))
            nbytes, = struct.unpack("<I", f.read(4))
            arr = np.frombuffer(f.read(nbytes), dtype=CT2_DTYPES[dtype]).reshape(shape)
            if rank >= 2:
                if dtype not in (0, 4):
                    raise ValueError(f"{name}: stored as dtype {dtype}, not float (a quantized model.bin?)")
                out[name] = arr.astype(np.float32)
    return out


def candidates(ct2):
    """(label, array) for every weight, whole and split into 2 / 3 row blocks, as stored and transposed."""
    out = []
    for name, w in ct2.items():
        parts = [(name, w)]
        if w.ndim == 2:
            for n in (2, 3):
                if w.shape[0] % n == 0 and w.shape[0] // n == w.shape[1]:
                    parts += [(f"{name}[{i}/{n}]", p) for i, p in enumerate(np.split(w, n, axis=0))]
        for label, p in parts:
            out.append((label, p))
            if p.ndim == 2:
                out.append((label + ".T", p.T))
    return out


class Ct2Surgeon(dequantize.Surgeon):
    """dequantize.Surgeon with each quantized weight replaced by the CT2 tensor it was quantized from."""

    def __init__(self, model, cands):
        super().__init__(model)
        self.cands = cands
        self.matched = []  # (initializer, CT2 label, exact fraction)

    def float_weight(self, q_name, zp_name, scale_name):
        key = (q_name, zp_name, scale_name)
        if key in self.float_weights:
            return self.float_weights[key]
        q = self.array(q_name)
        zp = self.array(zp_name).astype(np.float32)
        scale = self.array(scale_name).astype(np.float32)
        if zp.size != 1 or scale.size != 1:
            raise dequantize.PatternError(f"{q_name}: not per-tensor quantized")
        info = np.iinfo(q.dtype)
        qi = q.astype(np.int32)
        rng = np.random.default_rng(0)
        flat = qi.reshape(-1)
        sample = rng.choice(flat.size, size=min(4096, flat.size), replace=False)

        def requant(c, idx=None):
            v = c.reshape(-1) if idx is None else c.reshape(-1)[idx]
            return np.clip(np.round(v / scale.reshape(()) + zp.reshape(())), info.min, info.max).astype(np.int32)

        scored = []
        for label, c in self.cands:
            if c.shape != q.shape:
                continue
            scored.append((float(np.mean(requant(c, sample) == flat[sample])), label, c))
        if not scored:
            raise dequantize.PatternError(f"{q_name}: no CT2 tensor of shape {q.shape}")
        scored.sort(key=lambda x: -x[0])
        _, label, c = scored[0]
        full = requant(c)
        exact = float(np.mean(full == flat))
        worst = int(np.abs(full - flat).max())
        runner_up = scored[1][0] if len(scored) > 1 else 0.0
        if exact < 0.995 or worst > 1 or runner_up > 0.5:
            raise dequantize.PatternError(
                f"{q_name}: best CT2 match {label} reproduces {exact:.4%} (max diff {worst}); runner-up {runner_up:.2%}")
        name = q_name[: -len("_quantized")] if q_name.endswith("_quantized") else q_name + "_ct2"
        if name in self.inits:
            name = q_name + "_ct2"
        self.main.initializer.append(numpy_helper.from_array(np.ascontiguousarray(c, dtype=np.float32), name))
        self.inits[name] = self.main.initializer[-1]
        self.float_weights[key] = name
        self.matched.append((q_name, label, exact))
        return name


def wanted_manifest(src_dir, ct2_dir):
    return {
        "tool": "infra/models/ct2_graphs.py",
        "tool_sha256": file_id(os.path.abspath(__file__))["sha256"],
        "surgery_sha256": file_id(os.path.abspath(dequantize.__file__))["sha256"],
        # the module both scripts import: a change to it rebuilds as a change to them does
        "graph_walk_sha256": file_id(os.path.abspath(graph_walk.__file__))["sha256"],
        "ct2_model_bin": file_id(os.path.join(ct2_dir, "model.bin")),
        "sources": {g: file_id(os.path.join(src_dir, g)) for g in INT8},
    }


def up_to_date(dest_dir, wanted):
    path = os.path.join(dest_dir, MANIFEST)
    if not os.path.exists(path):
        return False
    have = json.load(open(path))
    if any(have.get(k) != v for k, v in wanted.items()):
        return False
    return all(os.path.exists(os.path.join(dest_dir, g)) and file_id(os.path.join(dest_dir, g)) == i
               for g, i in have.get("graphs", {}).items())


def build_model(src_dir, ct2_dir, dest_dir):
    from onnxruntime.quantization import QuantType, quantize_dynamic

    wanted = wanted_manifest(src_dir, ct2_dir)
    if up_to_date(dest_dir, wanted):
        print(f"{os.path.basename(dest_dir)}: up to date in {dest_dir}", flush=True)
        return
    os.makedirs(os.path.join(dest_dir, "onnx"), exist_ok=True)
    manifest_path = os.path.join(dest_dir, MANIFEST)
    if os.path.exists(manifest_path):
        os.remove(manifest_path)  # a half-rebuilt folder has no manifest, so nothing loads it
    cands = candidates(read_ct2(os.path.join(ct2_dir, "model.bin")))
    graphs = {}
    for int8_name in INT8:
        t0 = time.time()
        src = os.path.join(src_dir, int8_name)
        original = onnx.load(src)
        model = onnx.load(src)
        surgeon = Ct2Surgeon(model, cands)
        replaced = surgeon.run()
        cross = dequantize.check_outputs_kept(original, model, src)
        onnx.checker.check_model(model)
        out32 = os.path.join(dest_dir, FP32[int8_name])
        onnx.save(model, out32)
        labels = sorted({m[1].split("[")[0].removesuffix(".T") for m in surgeon.matched})
        worst = min(m[2] for m in surgeon.matched)
        print(f"{os.path.basename(dest_dir)}/{FP32[int8_name]}: {len(surgeon.matched)} weights from {len(labels)} CT2 "
              f"tensors (each reproduces the shipped int8 values, worst {worst:.4%} exact); replaced {replaced}; "
              f"kept {len(cross)} cross_attentions outputs ({time.time() - t0:.1f} s)", flush=True)
        t0 = time.time()
        out8 = os.path.join(dest_dir, int8_name)
        with tempfile.TemporaryDirectory() as tmp:
            # the shipped options (PROVENANCE.md step 4) but per_channel=True
            quantize_dynamic(out32, os.path.join(tmp, "q.onnx"), per_channel=True, reduce_range=False,
                             weight_type=getattr(QuantType, WEIGHT_TYPE[int8_name]),
                             extra_options={"EnableSubgraph": True})
            q = onnx.load(os.path.join(tmp, "q.onnx"))
        dequantize.check_outputs_kept(original, q, out8)
        onnx.save(q, out8)
        print(f"{os.path.basename(dest_dir)}/{int8_name}: per-channel int8 {os.path.getsize(out8):,} B "
              f"({time.time() - t0:.1f} s)", flush=True)
        graphs[FP32[int8_name]] = file_id(out32)
        graphs[int8_name] = file_id(out8)
    with open(manifest_path + ".tmp", "w") as f:
        json.dump({**wanted, "graphs": graphs}, f, indent=1)
    os.replace(manifest_path + ".tmp", manifest_path)


def main():
    here = os.path.dirname(os.path.abspath(__file__))
    cache = os.environ.get("FAIRSCRIBE_CACHE", os.path.join(os.path.expanduser("~"), ".cache", "fairscribe"))
    ap = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    ap.add_argument("--src", default=os.path.normpath(os.path.join(here, "..", "..", "..", "shared", "models")))
    ap.add_argument("--ct2", default=os.path.join(cache, "ct2"), help="folder of <model>/model.bin (bench/setup-peers.sh)")
    ap.add_argument("--dest", required=True, help="folder to write (outside the repository)")
    ap.add_argument("--models", default="whisper-tiny.en,whisper-base")
    args = ap.parse_args()
    refuse_inside_repository(args.dest)
    for m in [x for x in args.models.split(",") if x]:
        try:
            build_model(os.path.join(args.src, m), os.path.join(args.ct2, m), os.path.join(args.dest, m))
        except dequantize.PatternError as e:
            sys.exit(f"{m}: {e}")


if __name__ == "__main__":
    main()
