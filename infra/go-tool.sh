#!/usr/bin/env bash
# Finds or builds a pinned Go tool into ~/.cache/fairscribe/<name>-<version>/bin/<name> (outside the repository,
# shared by every checkout and CI run on the machine), the way infra/temporal-cli.sh does for the Temporal CLI.
#   bash infra/go-tool.sh NAME VERSION GO_PACKAGE      e.g. helm 3.22.0 helm.sh/helm/v3/cmd/helm
# The binary's absolute path is the last line of stdout; progress on stderr. Idempotent; concurrent runs wait
# for one build (flock). Env: FAIRSCRIBE_CACHE (default $HOME/.cache/fairscribe).
set -euo pipefail
name="$1"; version="$2"; pkg="$3"
cache_root="${FAIRSCRIBE_CACHE:-$HOME/.cache/fairscribe}"
install_dir="$cache_root/$name-$version"
bin="$install_dir/bin/$name"
log() { printf '[%s] %s\n' "$name" "$*" >&2; }

if [[ -x "$bin" ]]; then
  log "using cached $bin"
  echo "$bin"
  exit 0
fi
if ! command -v go >/dev/null 2>&1; then
  log "error: $bin is not built and there is no Go toolchain to build it (https://go.dev/dl/)"
  exit 1
fi
mkdir -p "$install_dir"
exec 9>"$install_dir/.build.lock"
flock 9
if [[ -x "$bin" ]]; then
  log "using $bin (built by another run)"
  echo "$bin"
  exit 0
fi
# Build into a scratch GOBIN and move the binary in, so the cache never holds a partial file.
staging="$(mktemp -d "$install_dir/.staging.XXXXXX")"
trap 'rm -rf "$staging"' EXIT
log "building $pkg@v$version from Go modules once (later runs reuse $bin)..."
started=$SECONDS
(cd "$install_dir" && GOBIN="$staging" go install "$pkg@v$version") >&2
mkdir -p "$install_dir/bin"
mv -f "$staging/$name" "$bin"
log "built in $((SECONDS - started)) s"
echo "$bin"
