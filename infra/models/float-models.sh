#!/usr/bin/env bash
# Float Whisper graphs (fp32 + fp16) made from the shipped int8 files by infra/models/dequantize.py, into a models
# folder outside the repository (WHISPER_MODELS_DIR layout; weights are never committed). CPU workers run the fp32
# ones with WHISPER_CPU_PRECISION=fp32 (opt-in, docs/models.md "fp32 on the CPU"), GPU workers fp16 / fp32.
#   bash infra/models/float-models.sh [MODEL ...]     default: whisper-tiny.en whisper-base (what setup builds)
# Output: $FAIRSCRIBE_FLOAT_MODELS (default ~/.cache/fairscribe/models-float)/<model>/; the folder is the last line
# of stdout. Cached: a model is rebuilt only when dequantize.py, graph_walk.py or its int8 source files change
# (.built-from holds their hash). Beside the graphs, built-from.json records the sha256 and size of the int8 sources
# and of every float graph (per_row_quant.py's manifest format): engine/precision.ts floatGraphs() loads the fp32
# graphs only when they match, and a worker falls back to int8 with a warning otherwise.
# The Python side (onnx 1.17.0, numpy) lives in a venv in the same cache.
set -euo pipefail
here="$(cd "$(dirname "${BASH_SOURCE[0]}")" && pwd)"
# shellcheck source=infra/models/venv.sh
source "$here/venv.sh"
DEST="${FAIRSCRIBE_FLOAT_MODELS:-$CACHE/models-float}"
log() { printf '[float-models] %s\n' "$*" >&2; }

INT8=(onnx/encoder_model_quantized.onnx onnx/decoder_model_merged_quantized.onnx)
FLOAT=(onnx/encoder_model.onnx onnx/decoder_model_merged.onnx onnx/encoder_model_fp16.onnx onnx/decoder_model_merged_fp16.onnx)

# Writes $DEST/$1/built-from.json: {"sources": {int8 file: {sha256, bytes}}, "graphs": {float file: {sha256, bytes}}}.
write_manifest() {
  python3 - "$SRC/$1" "$DEST/$1" "${#INT8[@]}" "${INT8[@]}" "${FLOAT[@]}" <<'PY'
import hashlib, json, os, sys
src, dest, n = sys.argv[1], sys.argv[2], int(sys.argv[3])
int8, floats = sys.argv[4:4 + n], sys.argv[4 + n:]
def file_id(p):
    h = hashlib.sha256()
    with open(p, "rb") as f:
        for b in iter(lambda: f.read(1 << 20), b""):
            h.update(b)
    return {"sha256": h.hexdigest(), "bytes": os.path.getsize(p)}
manifest = {"sources": {f: file_id(os.path.join(src, f)) for f in int8},
            "graphs": {f: file_id(os.path.join(dest, f)) for f in floats if os.path.exists(os.path.join(dest, f))}}
tmp = os.path.join(dest, "built-from.json.tmp")
with open(tmp, "w") as out:
    json.dump(manifest, out, indent=1)
os.replace(tmp, os.path.join(dest, "built-from.json"))
PY
}

# True when $DEST/$1/built-from.json matches the int8 sources and the float graphs on disk (what floatGraphs checks).
manifest_ok() {
  python3 - "$SRC/$1" "$DEST/$1" <<'PY'
import hashlib, json, os, sys
src, dest = sys.argv[1], sys.argv[2]
def sha(p):
    h = hashlib.sha256()
    with open(p, "rb") as f:
        for b in iter(lambda: f.read(1 << 20), b""):
            h.update(b)
    return h.hexdigest()
try:
    m = json.load(open(os.path.join(dest, "built-from.json")))
    ok = all(sha(os.path.join(src, f)) == v["sha256"] for f, v in m["sources"].items()) and \
         all(os.path.exists(os.path.join(dest, f)) and sha(os.path.join(dest, f)) == v["sha256"] for f, v in m["graphs"].items()) and \
         "onnx/encoder_model.onnx" in m["graphs"] and "onnx/decoder_model_merged.onnx" in m["graphs"]
except (OSError, ValueError, KeyError, TypeError):
    ok = False
sys.exit(0 if ok else 1)
PY
}

models=("$@")
((${#models[@]})) || models=(whisper-tiny.en whisper-base)
mkdir -p "$DEST"
# one build at a time (setup, a helper, CI steps): the second waits, then finds the models cached
exec 9>"$DEST/.lock"
flock 9
for m in "${models[@]}"; do
  key="$(cat "$here/dequantize.py" "$here/graph_walk.py" "$SRC/$m/${INT8[0]}" "$SRC/$m/${INT8[1]}" | sha256sum | cut -c1-16)"
  if [[ -f "$DEST/$m/.built-from" && "$(cat "$DEST/$m/.built-from")" == "$key" ]]; then
    # a folder built before the manifest existed gets one, without a rebuild
    [[ -f "$DEST/$m/built-from.json" ]] || write_manifest "$m"
    if manifest_ok "$m"; then
      log "$m: cached in $DEST/$m"
      continue
    fi
    log "$m: a graph in $DEST/$m changed since it was built; rebuilding"
  fi
  ensure_onnx_venv
  started=$SECONDS
  rm -f "$DEST/$m/built-from.json" "$DEST/$m/.built-from"  # a half-built folder must not pass the check
  "$VENV/bin/python" -W ignore "$here/dequantize.py" --src "$SRC" --dest "$DEST" --models "$m" >&2
  write_manifest "$m"
  echo "$key" > "$DEST/$m/.built-from"
  log "$m: built in $((SECONDS - started)) s"
done
echo "$DEST"
