#!/usr/bin/env bash
# Finds or builds the Temporal CLI (it contains the real dev server: `temporal server start-dev`).
#
# Order: `temporal` on PATH if it holds Server >= 1.29, else the cached pinned build, else build the pinned
# version from Go modules into the cache (no npm package ships the server, and the SDK's own download site is
# not reachable on our machines; the Go module proxy is).
#
# Idempotent. Progress goes to stderr; the binary's absolute path is the last line of stdout, so callers can do
#   TEMPORAL_BIN="$(bash infra/temporal-cli.sh | tail -n1)"
# Env: FAIRSCRIBE_CACHE (default $HOME/.cache/fairscribe), TEMPORAL_SKIP_PATH=1 to ignore `temporal` on PATH.
set -euo pipefail

# v1.5.1 holds Server 1.29.1, the oldest server with task-queue fairness we rely on. Newer CLI releases (v1.6+)
# cannot be built from the module proxy: their go.mod replaces a nested module the proxy does not serve.
readonly CLI_VERSION="1.5.1"
readonly MIN_SERVER_MAJOR=1
readonly MIN_SERVER_MINOR=29

readonly CACHE_ROOT="${FAIRSCRIBE_CACHE:-$HOME/.cache/fairscribe}"
readonly INSTALL_DIR="$CACHE_ROOT/temporal-cli-$CLI_VERSION"
readonly CACHED_BIN="$INSTALL_DIR/bin/temporal"

log() { printf '[temporal-cli] %s\n' "$*" >&2; }

# True when "$1 --version" reports "(Server X.Y.Z, ...)" with X.Y >= the minimum.
server_recent_enough() {
  local version_line major minor
  version_line="$("$1" --version 2>/dev/null)" || return 1
  [[ "$version_line" =~ Server\ ([0-9]+)\.([0-9]+) ]] || return 1
  major="${BASH_REMATCH[1]}"
  minor="${BASH_REMATCH[2]}"
  (( major > MIN_SERVER_MAJOR || (major == MIN_SERVER_MAJOR && minor >= MIN_SERVER_MINOR) ))
}

if [[ "${TEMPORAL_SKIP_PATH:-0}" != "1" ]] && on_path="$(command -v temporal 2>/dev/null)"; then
  if server_recent_enough "$on_path"; then
    log "using $on_path ($("$on_path" --version))"
    echo "$on_path"
    exit 0
  fi
  log "ignoring $on_path: $("$on_path" --version 2>/dev/null || echo 'no version') is older than Server $MIN_SERVER_MAJOR.$MIN_SERVER_MINOR"
fi

if [[ -x "$CACHED_BIN" ]] && server_recent_enough "$CACHED_BIN"; then
  log "using cached $CACHED_BIN"
  echo "$CACHED_BIN"
  exit 0
fi

if ! command -v go >/dev/null 2>&1; then
  log "error: no usable Temporal CLI and no Go toolchain to build one."
  log "install Go (https://go.dev/dl/) or the Temporal CLI (https://docs.temporal.io/cli) and rerun."
  exit 1
fi

mkdir -p "$INSTALL_DIR"
# Two setups at once (a developer and a test run) must not both build or see a half-written binary.
exec 9>"$INSTALL_DIR/.build.lock"
if ! flock -n 9; then
  log "another build of the Temporal CLI is running; waiting for it..."
  flock 9
fi
if [[ -x "$CACHED_BIN" ]] && server_recent_enough "$CACHED_BIN"; then
  log "using $CACHED_BIN (built by the other run)"
  echo "$CACHED_BIN"
  exit 0
fi

# Build into a scratch GOBIN and move the finished binary in, so the cache never holds a partial file.
# Run from the cache dir: `go install pkg@version` ignores any go.mod, but this also guarantees nothing
# is written inside the repository.
staging="$(mktemp -d "$INSTALL_DIR/.staging.XXXXXX")"
trap 'rm -rf "$staging"' EXIT
log "building Temporal CLI v$CLI_VERSION from Go modules, ~5 min once (later runs reuse $CACHED_BIN)..."
started=$SECONDS
(cd "$INSTALL_DIR" && GOBIN="$staging" go install "github.com/temporalio/cli/cmd/temporal@v$CLI_VERSION") >&2
mkdir -p "$INSTALL_DIR/bin"
mv -f "$staging/temporal" "$CACHED_BIN"
log "built in $((SECONDS - started)) s: $("$CACHED_BIN" --version)"
echo "$CACHED_BIN"
