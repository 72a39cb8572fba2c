#!/usr/bin/env bash
# Renders deploy/helm/emr-on-eks-operator to stdout, as `helm template --include-crds` would,
# with tests/chart/helmrender (deploy/README.md says how faithful it is).
#
#   tests/chart/render.sh [values-file...]
#
# Environment: CHART (chart dir), RELEASE_NAME (default emr-on-eks-operator), RELEASE_NAMESPACE
# (default emr-on-eks-operator), INCLUDE_CRDS (1 = print crds/ first; default 1),
# HELMRENDER_ARGS (extra renderer flags, e.g. "--kube-version v1.20.2").
set -euo pipefail
here="$(cd "$(dirname "${BASH_SOURCE[0]}")" && pwd)"
repo="$(cd "$here/../.." && pwd)"
bin="$("$here/build-renderer.sh")"
args=(--name "${RELEASE_NAME:-emr-on-eks-operator}" --namespace "${RELEASE_NAMESPACE:-emr-on-eks-operator}")
[[ ${INCLUDE_CRDS:-1} == 1 ]] && args+=(--include-crds)
for f in "$@"; do args+=(-f "$f"); done
# shellcheck disable=SC2206
extra=(${HELMRENDER_ARGS:-})
exec "$bin" "${args[@]}" "${extra[@]}" "${CHART:-$repo/deploy/helm/emr-on-eks-operator}"
