#!/usr/bin/env bash
# Finds or builds fairscribe-temporal (infra/temporal-server/main.go): the real Temporal Server 1.29.1 with all
# services on PostgreSQL, its SQL schema tool and the Web UI, for `npm run cluster` and `npm run test:cluster`.
#
# The build is cached outside the repository like the CLI's (infra/temporal-cli.sh), under a key made of the
# program's sources, so editing main.go or go.mod rebuilds and nothing stale is reused. Its go.mod pins the same
# module versions as Temporal CLI v1.5.1, so a machine that built the CLI reuses most of Go's build cache.
#
# Idempotent. Progress goes to stderr; the binary's absolute path is the last line of stdout:
#   TEMPORAL_SERVER_BIN="$(bash infra/temporal-server.sh | tail -n1)"
# Env: FAIRSCRIBE_CACHE (default $HOME/.cache/fairscribe), TEMPORAL_SERVER_BIN (use this binary, build nothing).
set -euo pipefail

readonly SERVER_VERSION="1.29.1"
readonly SRC_DIR="$(cd "$(dirname "${BASH_SOURCE[0]}")/temporal-server" && pwd)"
readonly CACHE_ROOT="${FAIRSCRIBE_CACHE:-$HOME/.cache/fairscribe}"

log() { printf '[temporal-server] %s\n' "$*" >&2; }

if [[ -n "${TEMPORAL_SERVER_BIN:-}" ]]; then
  [[ -x "$TEMPORAL_SERVER_BIN" ]] || { log "error: TEMPORAL_SERVER_BIN=$TEMPORAL_SERVER_BIN is not executable"; exit 1; }
  echo "$TEMPORAL_SERVER_BIN"
  exit 0
fi

key="$(cat "$SRC_DIR/go.mod" "$SRC_DIR/go.sum" "$SRC_DIR/main.go" | sha256sum | cut -c1-12)"
readonly INSTALL_DIR="$CACHE_ROOT/temporal-server-$SERVER_VERSION-$key"
readonly CACHED_BIN="$INSTALL_DIR/bin/fairscribe-temporal"

if [[ -x "$CACHED_BIN" ]]; then
  log "using cached $CACHED_BIN"
  echo "$CACHED_BIN"
  exit 0
fi
if ! command -v go >/dev/null 2>&1; then
  log "error: no Go toolchain to build the Temporal server; install Go (https://go.dev/dl/) and rerun."
  exit 1
fi

mkdir -p "$INSTALL_DIR"
exec 9>"$INSTALL_DIR/.build.lock"
if ! flock -n 9; then
  log "another build is running; waiting for it..."
  flock 9
fi
if [[ -x "$CACHED_BIN" ]]; then
  echo "$CACHED_BIN"
  exit 0
fi

staging="$(mktemp -d "$INSTALL_DIR/.staging.XXXXXX")"
trap 'rm -rf "$staging"' EXIT
log "building Temporal Server $SERVER_VERSION (fairscribe-temporal) from Go modules; once per source change..."
started=$SECONDS
# -mod=readonly: go.mod/go.sum are committed and complete; a build never rewrites them. No -trimpath: the CLI was
# built without it, and the same flags let this build reuse its compiled packages from Go's build cache.
(cd "$SRC_DIR" && go build -mod=readonly -o "$staging/fairscribe-temporal" .) >&2
mkdir -p "$INSTALL_DIR/bin"
mv -f "$staging/fairscribe-temporal" "$CACHED_BIN"
log "built in $((SECONDS - started)) s: $("$CACHED_BIN" version)"
echo "$CACHED_BIN"
