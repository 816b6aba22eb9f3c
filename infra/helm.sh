#!/usr/bin/env bash
# Helm 3 for the offline chart checks (helm lint / helm template of infra/k8s/fairscribe): built once from Go
# modules into ~/.cache/fairscribe (~4 min; no download site is reachable here). Prints its path last.
exec bash "$(dirname "$0")/go-tool.sh" helm 3.22.0 helm.sh/helm/v3/cmd/helm
