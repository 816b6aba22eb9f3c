# Sourced by infra/models/*-models.sh (not run): the cache, source-models and venv paths they share, and the
# venv (onnx 1.17.0, numpy) their Python graph surgery runs in. The caller defines log() and sets `here`.
CACHE="${FAIRSCRIBE_CACHE:-$HOME/.cache/fairscribe}"
VENV="$CACHE/dequant-venv"
SRC="${WHISPER_MODELS_DIR:-$here/../../../shared/models}"

# Creates $VENV unless it already imports onnx and numpy.
ensure_onnx_venv() {
  if [[ ! -x "$VENV/bin/python" ]] || ! "$VENV/bin/python" -c 'import onnx, numpy' 2>/dev/null; then
    log "creating $VENV (onnx 1.17.0, numpy)"
    python3 -m venv "$VENV"
    "$VENV/bin/pip" install -q "onnx==1.17.0" "numpy<2" >&2
  fi
}
