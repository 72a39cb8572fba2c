#!/usr/bin/env bash
# `make demo-down`: removes what `make demo` created and stops its operator (the bed keeps running).
set -euo pipefail
cd "$(dirname "$0")/.."
[[ -f .testbed/env ]] || { echo "no bed running"; exit 0; }
# shellcheck disable=SC1091
source .testbed/env
kubectl delete sparkjobrun pi -n emr-demo --ignore-not-found --wait=true --timeout=60s || true
kubectl delete virtualcluster demo --ignore-not-found --wait=true --timeout=120s || true
PIDFILE=.testbed/pids/demo-operator.pid
if [[ -f $PIDFILE ]]; then kill "$(cat "$PIDFILE")" 2>/dev/null || true; rm -f "$PIDFILE"; fi
kubectl delete clusterrolebinding,clusterrole emr-on-eks-operator-demo --ignore-not-found >/dev/null
echo "demo removed; 'make testbed-down' stops the bed"
