#!/usr/bin/env bash
# `make demo`: the operator's main job on the local bed, end to end, in about a minute.
# Brings up the bed, prepares what a platform team already has in AWS (an EKS cluster with an
# OIDC issuer and a job role), runs the operator as its least-privileged user, applies a
# VirtualCluster and the seeds' pi.py SparkJobRun, and shows them progress until COMPLETED.
set -euo pipefail
cd "$(dirname "$0")/.."

step() { printf '\n\033[1m==> %s\033[0m\n' "$*"; }

step "Starting the local bed (kube-apiserver, etcd, controller-manager, AWS emulator on 127.0.0.1)"
tests/bed/up.sh >/dev/null
# shellcheck disable=SC1091
source .testbed/env

scripts/demo-setup.sh

step "Starting the operator (as user emr-on-eks-operator-test, metrics on 127.0.0.1:${DEMO_METRICS_PORT:=18080})"
PIDFILE=.testbed/pids/demo-operator.pid
if [[ -f $PIDFILE ]] && kill -0 "$(cat "$PIDFILE")" 2>/dev/null; then
  kill "$(cat "$PIDFILE")"; sleep 1
fi
mkdir -p .testbed/pids .testbed/logs
KUBECONFIG="$TESTBED_OPERATOR_KUBECONFIG" POD_NAMESPACE=default setsid target/debug/emr-on-eks-operator run \
  --selector emr-on-eks.dev/demo=true \
  --metrics-address "127.0.0.1:$DEMO_METRICS_PORT" --young-poll-interval 1s --poll-interval 5s \
  >.testbed/logs/demo-operator.log 2>&1 < /dev/null &
echo $! >"$PIDFILE"
for _ in $(seq 50); do curl -sf "http://127.0.0.1:$DEMO_METRICS_PORT/readyz" >/dev/null && break; sleep 0.2; done
curl -sf "http://127.0.0.1:$DEMO_METRICS_PORT/readyz" >/dev/null || { tail -20 .testbed/logs/demo-operator.log; exit 1; }

step "kubectl apply -f examples/demo/virtualcluster.yaml"
kubectl apply -f examples/demo/virtualcluster.yaml
# Polled: 1.20's kubectl wait fails at once while status has no conditions yet.
for _ in $(seq 180); do
  [[ "$(kubectl get virtualcluster demo -o jsonpath='{.status.conditions[?(@.type=="Ready")].status}' 2>/dev/null)" == True ]] && break
  sleep 0.5
done
kubectl wait --for=condition=Ready --timeout=5s virtualcluster/demo >/dev/null || {
  kubectl get virtualcluster demo -o yaml; tail -30 .testbed/logs/demo-operator.log; exit 1; }
kubectl get virtualcluster demo
echo; kubectl get rolebinding -n emr-demo

step "kubectl apply -f examples/demo/pi.yaml (the seeds' pi.py)"
kubectl delete sparkjobrun pi -n emr-demo --ignore-not-found --wait=true --timeout=60s >/dev/null || {
  echo "the previous demo's SparkJobRun 'pi' is still being deleted; see .testbed/logs/demo-operator.log" >&2; exit 1; }
kubectl apply -f examples/demo/pi.yaml
last=""
for _ in $(seq 180); do
  state=$(kubectl get sparkjobrun pi -n emr-demo -o jsonpath='{.status.state}' 2>/dev/null || true)
  if [[ $state != "$last" ]]; then
    kubectl get sparkjobrun pi -n emr-demo --no-headers | sed 's/^/  /'
    last=$state
  fi
  [[ $state == COMPLETED || $state == FAILED || $state == CANCELLED ]] && break
  sleep 1
done
echo; kubectl get sparkjobrun pi -n emr-demo -o wide

step "Operator metrics (curl 127.0.0.1:$DEMO_METRICS_PORT/metrics)"
curl -s "http://127.0.0.1:$DEMO_METRICS_PORT/metrics" | grep -E '^emr_operator_(job_runs|job_run_transitions_total|aws_calls_total\{[^}]*(StartJobRun|ListJobRuns)[^}]*outcome="ok")' | sed 's/^/  /'

step "Strict AWS emulator: requests refused as AWS would (botocore's models and quotas)"
echo "  strict validation on: $(curl -s "$EMULATOR_URL/_emulator/strict" | jq -r .enabled)," \
  "violations: $(curl -s "$EMULATOR_URL/_emulator/violations" | jq '.violations | length')"

if [[ $last != COMPLETED ]]; then
  echo "pi did not complete (state: ${last:-none}); operator log: .testbed/logs/demo-operator.log" >&2
  exit 1
fi

cat <<MSG

Done: VirtualCluster 'demo' is Ready and SparkJobRun 'pi' COMPLETED.

Look around (in this shell: source .testbed/env):
  kubectl get virtualclusters,sparkjobruns -A          # or: kubectl get emr -A
  kubectl describe sparkjobrun pi -n emr-demo          # conditions, attempts, log locations
  kubectl get events -n emr-demo
  kubectl get configmap aws-auth -n kube-system -o yaml
  curl -s \$EMULATOR_URL/_emulator/calls | jq '.calls[] | .operation' | sort | uniq -c
  curl -s \$EMULATOR_URL/_emulator/violations | jq .     # requests AWS would refuse (none)
  less .testbed/logs/demo-operator.log
Run it again (a new attempt, same object):
  kubectl patch sparkjobrun pi -n emr-demo --type merge -p '{"spec":{"rerun":"again"}}'
Any other spec change is refused once submitted (condition SpecChangeRefused).
Tear down: make demo-down (stops the operator, deletes the demo objects); make testbed-down (stops the bed).
MSG
