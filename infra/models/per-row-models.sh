#!/usr/bin/env bash
# Batch-independent int8 Whisper graphs (per-token / per-item activation scales instead of one per batch), made
# from the shipped int8 files by infra/models/per_row_quant.py into a cache outside the repository; the CPU
# workers load them (engine/precision.ts perRowGraphs), the shipped files stay where they are.
#   bash infra/models/per-row-models.sh [MODEL ...]    default: every model folder of WHISPER_MODELS_DIR
# Output: $FAIRSCRIBE_PER_ROW_MODELS (default ~/.cache/fairscribe/models-per-row)/<model>/; the folder is the last
# line of stdout. Idempotent: a model is rebuilt only when its source graphs or the script changed (sha256 in
# <model>/built-from.json); a check of an up-to-date cache costs hashing the graphs (~1 s for tiny.en + base).
# The Python side (onnx 1.17.0, numpy) is the venv infra/models/float-models.sh makes.
set -euo pipefail
here="$(cd "$(dirname "${BASH_SOURCE[0]}")" && pwd)"
# shellcheck source=infra/models/venv.sh
source "$here/venv.sh"
DEST="${FAIRSCRIBE_PER_ROW_MODELS:-$CACHE/models-per-row}"
log() { printf '[per-row-models] %s\n' "$*" >&2; }

ensure_onnx_venv
mkdir -p "$DEST"
started=$SECONDS
models="$(IFS=,; echo "$*")"
"$VENV/bin/python" -W ignore "$here/per_row_quant.py" --src "$SRC" --dest "$DEST" --models "$models" >&2
log "done in $((SECONDS - started)) s"
echo "$DEST"
