#!/usr/bin/env bash
# Float Whisper graphs (fp32 + fp16) for GPU workers, made from the shipped int8 files by infra/models/dequantize.py,
# into a models folder outside the repository (WHISPER_MODELS_DIR layout; weights are never committed).
#   bash infra/models/float-models.sh [MODEL ...]     default: whisper-tiny.en (what the tests use, ~10 s)
# Output: $FAIRSCRIBE_FLOAT_MODELS (default ~/.cache/fairscribe/models-float)/<model>/; the folder is the last line
# of stdout. Cached: a model is rebuilt only when dequantize.py or its int8 source files change.
# The Python side (onnx 1.17.0, numpy) lives in a venv in the same cache.
set -euo pipefail
here="$(cd "$(dirname "${BASH_SOURCE[0]}")" && pwd)"
# shellcheck source=infra/models/venv.sh
source "$here/venv.sh"
DEST="${FAIRSCRIBE_FLOAT_MODELS:-$CACHE/models-float}"
log() { printf '[float-models] %s\n' "$*" >&2; }

ensure_onnx_venv
models=("$@")
((${#models[@]})) || models=(whisper-tiny.en)
mkdir -p "$DEST"
for m in "${models[@]}"; do
  key="$(cat "$here/dequantize.py" "$here/graph_walk.py" "$SRC/$m/onnx/encoder_model_quantized.onnx" "$SRC/$m/onnx/decoder_model_merged_quantized.onnx" | sha256sum | cut -c1-16)"
  if [[ -f "$DEST/$m/.built-from" && "$(cat "$DEST/$m/.built-from")" == "$key" ]]; then
    log "$m: cached in $DEST/$m"
    continue
  fi
  started=$SECONDS
  "$VENV/bin/python" -W ignore "$here/dequantize.py" --src "$SRC" --dest "$DEST" --models "$m" >&2
  echo "$key" > "$DEST/$m/.built-from"
  log "$m: built in $((SECONDS - started)) s"
done
echo "$DEST"
