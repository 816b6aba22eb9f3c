"""CUDA batch scaling of our float Whisper graphs (infra/models/dequantize.py): encoder + 60 greedy decoder steps at
batch 1, 2, 4, 8, 16, per model and precision, with onnxruntime-gpu from PyPI (the same graphs a `gpu-*` worker
loads; the loop is ../shared/tools/ort_limit.py's, on the CUDA provider).

usage: python gpu_batch.py FLOAT_MODELS_DIR [--models whisper-tiny.en,whisper-base] [--precisions fp16,fp32]
needs: pip install onnxruntime-gpu numpy  (on a machine with an NVIDIA GPU, CUDA 12, cuDNN 9)
Prints one markdown table row per (model, precision, batch) for docs/capacity.md; exits 1 if the CUDA provider is
not the one that ran (onnxruntime falls back to the CPU silently otherwise)."""
import argparse, json, os, sys, time
import numpy as np
import onnxruntime as ort

FILES = {"fp32": ("encoder_model.onnx", "decoder_model_merged.onnx"), "fp16": ("encoder_model_fp16.onnx", "decoder_model_merged_fp16.onnx")}

def main():
    ap = argparse.ArgumentParser()
    ap.add_argument("dir")
    ap.add_argument("--models", default="whisper-tiny.en,whisper-base")
    ap.add_argument("--precisions", default="fp16,fp32")
    ap.add_argument("--batches", default="1,2,4,8,16")
    a = ap.parse_args()
    print(f"onnxruntime {ort.__version__}, providers {ort.get_available_providers()}")
    print("| model | graphs | batch | encoder ms | ms / decoder step | per-item ms (enc + 60 steps) | aggregate RTFx (30 s windows) |")
    print("|---|---|---|---|---|---|---|")
    for m in a.models.split(","):
        d = os.path.join(a.dir, m)
        cfg = json.load(open(os.path.join(d, "config.json"))); gen = json.load(open(os.path.join(d, "generation_config.json")))
        H = cfg["decoder_attention_heads"]; D = cfg["d_model"] // H
        for p in a.precisions.split(","):
            enc = ort.InferenceSession(os.path.join(d, "onnx", FILES[p][0]), providers=["CUDAExecutionProvider"])
            dec = ort.InferenceSession(os.path.join(d, "onnx", FILES[p][1]), providers=["CUDAExecutionProvider"])
            if enc.get_providers()[0] != "CUDAExecutionProvider" or dec.get_providers()[0] != "CUDAExecutionProvider":
                sys.exit(f"CUDA provider not used: {enc.get_providers()} / {dec.get_providers()}")
            pk = [i.name for i in dec.get_inputs() if i.name.startswith("past_key_values")]
            outn = [o.name for o in dec.get_outputs()]
            rng = np.random.default_rng(0)
            def run(B, steps=60):
                feats = (rng.standard_normal((B, 80, 3000)) * 0.3 - 0.5).astype(np.float32)
                t0 = time.perf_counter(); hs = enc.run(None, {"input_features": feats})[0]; te = time.perf_counter() - t0
                ids = np.full((B, 2), gen["decoder_start_token_id"], np.int64); ids[:, 1] = gen["no_timestamps_token_id"]
                past = {n: np.zeros((B, H, 0, D), np.float32) for n in pk}; encp = None
                t0 = time.perf_counter()
                for _ in range(steps):
                    first = encp is None
                    feed = {"input_ids": ids if first else ids[:, -1:], "encoder_hidden_states": hs, "use_cache_branch": np.array([not first])}
                    feed.update(past); o = dict(zip(outn, dec.run(None, feed)))
                    nxt = o["logits"][:, -1].argmax(-1)[:, None]
                    if first: encp = {n: o[n.replace("past_key_values", "present")] for n in pk if ".encoder." in n}
                    past = {n: (encp[n] if ".encoder." in n else o[n.replace("past_key_values", "present")]) for n in pk}
                    ids = np.concatenate([ids, nxt], 1)
                return te, time.perf_counter() - t0
            run(1)  # CUDA context, cuDNN autotuning
            for B in [int(b) for b in a.batches.split(",")]:
                r = [run(B) for _ in range(3)]; te = sorted(x[0] for x in r)[1]; td = sorted(x[1] for x in r)[1]
                print(f"| {m} | {p} | {B} | {te*1000:.0f} | {td/60*1000:.1f} | {(te+td)/B*1000:.0f} | {30*B/(te+td):.0f} |", flush=True)

if __name__ == "__main__":
    main()
