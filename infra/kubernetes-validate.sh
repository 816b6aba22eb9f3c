#!/usr/bin/env bash
# kubernetes-validate (PyPI; it bundles the Kubernetes OpenAPI schemas, so it validates offline) in a venv cached
# under ~/.cache/fairscribe, for the chart checks in test/integration/k8s-chart.test.ts. Idempotent; prints the
# executable's path as the last line of stdout.
set -euo pipefail
readonly VERSION="1.37.0"
venv="${FAIRSCRIBE_CACHE:-$HOME/.cache/fairscribe}/kubernetes-validate-$VERSION"
bin="$venv/bin/kubernetes-validate"
log() { printf '[kubernetes-validate] %s\n' "$*" >&2; }
if [[ -x "$bin" ]]; then
  log "using cached $bin"
  echo "$bin"
  exit 0
fi
mkdir -p "$(dirname "$venv")"
exec 9>"$venv.lock"
flock 9
if [[ ! -x "$bin" ]]; then
  log "installing kubernetes-validate $VERSION into $venv"
  rm -rf "$venv"
  python3 -m venv "$venv" >&2
  "$venv/bin/pip" install --quiet --disable-pip-version-check "kubernetes-validate==$VERSION" >&2
fi
echo "$bin"
