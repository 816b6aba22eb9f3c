#!/usr/bin/env bash
# `npm test`: unit tests, then integration tests against the real services (started once per run by
# Jest's global setup on free ports in a temporary directory), in one Jest run and one summary.
set -euo pipefail
cd "$(dirname "$0")/.."
export TEMPORAL_BIN="${TEMPORAL_BIN:-$(bash infra/temporal-cli.sh 2>/dev/null | tail -n1)}"
exec npx jest --runInBand "$@"
