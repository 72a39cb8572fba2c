#!/usr/bin/env bash
# Tests the Helm chart deploy/helm/emr-on-eks-operator with real Helm: tests/chart/helm.py on
# PyPI's helm-python-sdk (Helm v4's Go SDK as a C library; no helm binary), in tests/chart/.venv.
#
#  1. `helm lint --strict` with the default values and each values file below;
#     tests/chart/check-iam-policy.py: deploy/iam/operator-policy.json grants exactly the AWS
#     calls of crates/emr-aws/src/operation.rs; check-values-docs.py: every value is documented.
#  2. `helm template --include-crds` with default values, values-all.yaml (every optional part
#     on) and values-no-aws-auth.yaml; check_manifests.py checks every document (parses,
#     apiVersion/kind/metadata.name, namespaces, hardening, RBAC rules equal to the chart's
#     files/); the operator binary accepts the Deployment's arguments.
#  3. When .testbed/env exists: renders again by an install --dry-run=server against the bed
#     (Helm discovers its Kubernetes version and APIs), after creating a scratch namespace and a
#     minimal ServiceMonitor CRD if the cluster has none, and submits everything with
#     `kubectl apply --dry-run=server`. Then Helm INSTALLS a release (default values, plus the
#     bed's AWS endpoint and a selector of its own) and asks `kubectl auth can-i` as the
#     release's ServiceAccount what it can do (bind EMR's ClusterRole, create RoleBindings,
#     namespaces and service accounts, update aws-auth, its own Lease) and what it cannot
#     (secrets, pods, other ConfigMaps, kube-system Leases, escalate, bind any other role, create
#     Roles); has it create a RoleBinding to EMR's ClusterRole with --dry-run=server (allowed) and
#     to admin (refused). Helm UPGRADES the release (new poll intervals: revision 2, the
#     Deployment's args change), then the operator binary runs from the release's objects: the
#     Deployment's args and env, the ServiceAccount's token (its rights, nothing more), and takes
#     copies of the demo's VirtualCluster and pi.py to Ready and COMPLETED. Helm UNINSTALLS the
#     release: its objects and its history are gone. Everything else it created is deleted again
#     (the ServiceMonitor CRD stays).
#
# Quiet on success: one summary line. Failures: one line each on stderr, exit status 1.
# CHART_TEST_NO_BED=1 skips step 3 even when the test bed is up.
set -euo pipefail
here="$(cd "$(dirname "${BASH_SOURCE[0]}")" && pwd)"
repo="$(cd "$here/../.." && pwd)"
chart="${CHART:-$repo/deploy/helm/emr-on-eks-operator}"
files="$chart/files"
work="$(mktemp -d)"
fail=0
err() { echo "chart: $*" >&2; fail=1; }
cleanup_cmds=()
cleanup() {
  local c
  for c in "${cleanup_cmds[@]}"; do eval "$c" >/dev/null 2>&1 || true; done
  if [[ -n ${CHART_KEEP_WORK:-} ]]; then echo "chart: kept $work (CHART_KEEP_WORK)"; else rm -rf "$work"; fi
}
trap cleanup EXIT
# wait_until ARGS...: `kubectl wait ARGS`, retried while the object has no status yet (1.20's
# kubectl fails at once when status.conditions is missing instead of waiting for it).
wait_until() {
  local _
  for _ in $(seq 60); do
    kubectl wait "$@" >/dev/null 2>&1 && return 0
    sleep 0.5
  done
  kubectl wait "$@" >/dev/null
}

python="$here/.venv/bin/python"
"$python" -c 'import helm_python, yaml' 2>/dev/null || { echo "chart: no chart venv with helm-python-sdk: run tests/chart/install-deps.sh" >&2; exit 2; }
helm() { "$python" "$here/helm.py" "$@"; }

helm lint "$chart" -f "$here/values-all.yaml" -f "$here/values-no-aws-auth.yaml" >"$work/lint.out" || err "helm lint --strict failed (above)"
"$python" "$here/check-iam-policy.py" >&2 || err "deploy/iam/operator-policy.json does not match crates/emr-aws/src/operation.rs"
"$python" "$here/check-values-docs.py" "$chart/values.yaml" >&2 || err "values.yaml has undocumented values"

renders=0 documents=0
ns=emr-on-eks-operator
for set in default all no-aws-auth; do
  vals=()
  [[ $set == all ]] && vals=(-f "$here/values-all.yaml")
  [[ $set == no-aws-auth ]] && vals=(-f "$here/values-no-aws-auth.yaml")
  if ! helm template "$chart" --name emr-on-eks-operator --namespace "$ns" --include-crds "${vals[@]}" >"$work/$set.yaml" 2>"$work/$set.err"; then
    err "$set values: $(cat "$work/$set.err")"
    continue
  fi
  renders=$((renders + 1))
  if n="$("$python" "$here/check_manifests.py" "$ns" "$files" <"$work/$set.yaml")"; then
    documents=$((documents + n))
  else
    err "$set values: manifest checks failed (above)"
  fi
done
# Without aws-auth rights the operator is told so, and no aws-auth Role is rendered.
if [[ -s $work/no-aws-auth.yaml ]]; then
  grep -q -- '- --aws-auth=false' "$work/no-aws-auth.yaml" || err "no-aws-auth values: the Deployment lacks --aws-auth=false"
  ! grep -q -- '--aws-auth=false' "$work/default.yaml" || err "default values: the Deployment has --aws-auth=false"
  ! grep -qE 'name: .*-aws-auth$' "$work/no-aws-auth.yaml" || err "no-aws-auth values: an aws-auth Role or RoleBinding is rendered"
fi

# The operator binary must accept the Deployment's arguments (clap parses and checks every
# value, then stops at the trailing --help). Uses EMR_OPERATOR_BIN or a cargo build if present.
skipped=()
binary_check=""
op_bin="${EMR_OPERATOR_BIN:-}"
target_dir="${CARGO_TARGET_DIR:-$repo/target}"
for b in "$target_dir/debug/emr-on-eks-operator" "$target_dir/release/emr-on-eks-operator"; do
  [[ -z $op_bin && -x $b ]] && op_bin="$b"
done
if [[ -n $op_bin ]]; then
  for set in default all no-aws-auth; do
    [[ -s $work/$set.yaml ]] || continue
    mapfile -t op_args < <("$python" -c '
import sys, yaml
for d in yaml.safe_load_all(open(sys.argv[1])):
    if d and d["kind"] == "Deployment":
        print("\n".join(d["spec"]["template"]["spec"]["containers"][0]["args"]))' "$work/$set.yaml")
    if ! env -i PATH="$PATH" "$op_bin" "${op_args[@]}" --help >/dev/null 2>"$work/$set.args.err"; then
      err "$set values: $op_bin rejects the chart's arguments: $(head -3 "$work/$set.args.err" | tr '\n' ' ')"
    fi
  done
  binary_check=", operator accepts the args"
else
  skipped+=("operator args (no binary; cargo build -p emr-on-eks-operator)")
fi

# Runs the operator binary as the installed release would: the Deployment's args and env from the
# cluster, the release ServiceAccount's token as its only credential (AWS keys from the bed stand
# in for IRSA), its own metrics port; takes copies of the demo's VirtualCluster and pi.py (with
# the release's selector label) to Ready and COMPLETED, then deletes them and stops.
run_release_operator() {
  local secret="" token kc="$work/release.kubeconfig" port pid state="" vc="chart-demo-$id" vns="emr-chart-demo-$id" ok=0
  kubectl get deployment -n "$tns" -o json >"$work/deployment.json"
  for _ in $(seq 40); do # 1.20's token controller makes the ServiceAccount's Secret
    secret="$(kubectl get serviceaccount "$sa" -n "$tns" -o jsonpath='{.secrets[0].name}')"
    [[ -n $secret ]] && break
    sleep 0.25
  done
  [[ -n $secret ]] || { err "ServiceAccount $sa has no token Secret"; return 1; }
  token="$(kubectl get secret "$secret" -n "$tns" -o jsonpath='{.data.token}' | base64 -d)"
  kubectl config view --raw --minify -o json | jq --arg t "$token" \
    '.users = [{name: "release", user: {token: $t}}] | .contexts[0].context.user = "release"' >"$kc"
  port="$("$python" -c 'import socket; s = socket.socket(); s.bind(("127.0.0.1", 0)); print(s.getsockname()[1])')"
  mapfile -t op_args < <(jq -r '.items[0].spec.template.spec.containers[0].args[] | select(startswith("--metrics-address=") | not)' "$work/deployment.json")
  jq -r --arg ns "$tns" --arg pod "$release-0" '.items[0].spec.template.spec.containers[0].env // [] | .[]
    | .name + "=" + (if .value then .value elif .valueFrom.fieldRef.fieldPath == "metadata.namespace" then $ns
                     elif .valueFrom.fieldRef.fieldPath == "metadata.name" then $pod else error("env \(.name): unsupported valueFrom") end)' \
    "$work/deployment.json" >"$work/release.env" 2>&1 || { err "the Deployment's env cannot be reproduced here: $(cat "$work/release.env")"; return 1; }
  mapfile -t op_env <"$work/release.env"
  scripts_dir="$repo/scripts"
  env -i PATH="$PATH" HOME="$HOME" KUBECONFIG="$kc" AWS_ACCESS_KEY_ID="$AWS_ACCESS_KEY_ID" AWS_SECRET_ACCESS_KEY="$AWS_SECRET_ACCESS_KEY" \
    "${op_env[@]}" "$op_bin" "${op_args[@]}" --metrics-address="127.0.0.1:$port" >"$work/release-operator.log" 2>&1 </dev/null &
  pid=$!
  cleanup_cmds+=("kill $pid")
  "$repo/tests/bed/.venv/bin/python" "$scripts_dir/demo-copy.py" "$vc" "$vns" "$label" "$id" "$work"
  kubectl apply --validate=false -f "$work/vc.yaml" >/dev/null
  # Polled rather than `kubectl wait`: 1.20's kubectl fails at once while status has no conditions yet.
  local ready=""
  for _ in $(seq 180); do
    ready="$(kubectl get virtualcluster "$vc" -o jsonpath='{.status.conditions[?(@.type=="Ready")].status}' 2>/dev/null || true)"
    [[ $ready == True ]] && break
    sleep 0.5
  done
  if [[ $ready != True ]]; then
    err "operator from the release: VirtualCluster $vc not Ready: $(kubectl get virtualcluster "$vc" -o jsonpath='{.status.conditions}')"
  else
    kubectl apply --validate=false -f "$work/pi.yaml" >/dev/null
    for _ in $(seq 120); do
      state="$(kubectl get sparkjobrun pi -n "$vns" -o jsonpath='{.status.state}')"
      [[ $state == COMPLETED || $state == FAILED || $state == CANCELLED ]] && break
      sleep 1
    done
    if [[ $state != COMPLETED ]]; then
      err "operator from the release: pi in $vns ended ${state:-without a state}, not COMPLETED"
    elif ! curl -sf "http://127.0.0.1:$port/metrics" | grep -q '^emr_operator_aws_calls_total{.*operation="StartJobRun"'; then
      err "operator from the release: /metrics shows no StartJobRun; its AWS calls: $(curl -sf "http://127.0.0.1:$port/metrics" | grep '^emr_operator_aws_calls_total' | tr '\n' ' '); log tail: $(tail -n 5 "$work/release-operator.log" | tr '\n' ' ')"
    else
      ok=1
    fi
  fi
  ((ok)) || tail -5 "$work/release-operator.log" | cut -c1-300 | sed "s/^/  operator: /" >&2
  kubectl delete sparkjobrun pi -n "$vns" --ignore-not-found --wait=true --timeout=60s >/dev/null 2>&1
  kubectl delete virtualcluster "$vc" --ignore-not-found --wait=true --timeout=60s >/dev/null 2>&1
  kill "$pid" 2>/dev/null
  wait "$pid" 2>/dev/null
  ((ok))
}

server=""
if [[ -f $repo/.testbed/env && -z ${CHART_TEST_NO_BED:-} ]]; then
  # shellcheck disable=SC1091
  source "$repo/.testbed/env"
  if ! version_json="$(kubectl version -o json 2>/dev/null)" || ! kv="$(jq -er .serverVersion.gitVersion <<<"$version_json")"; then
    err "the test bed's API server does not answer (KUBECONFIG=$KUBECONFIG); is tests/bed/up.sh running?"
  else
    kv="${kv%%+*}"
    release="emr-chart-test-$$"
    tns="$release"
    kubectl create namespace "$tns" >/dev/null
    cleanup_cmds+=("kubectl delete namespace $tns --wait=false")
    if ! kubectl get crd prometheusrules.monitoring.coreos.com >/dev/null 2>&1; then
      kubectl apply -f "$here/prometheusrule-crd.yaml" >/dev/null
      wait_until --for condition=established --timeout=30s crd/prometheusrules.monitoring.coreos.com
    fi
    if ! kubectl get crd servicemonitors.monitoring.coreos.com >/dev/null 2>&1; then
      kubectl apply -f "$here/servicemonitor-crd.yaml" >/dev/null
      wait_until --for condition=established --timeout=30s crd/servicemonitors.monitoring.coreos.com
    fi
    for set in default all; do
      vals=()
      [[ $set == all ]] && vals=(-f "$here/values-all.yaml")
      if ! helm template "$chart" --server --name "$release" --namespace "$tns" --include-crds "${vals[@]}" >"$work/$set.bed.yaml" 2>"$work/$set.bed.err"; then
        err "$set values for the test bed ($kv): $(cat "$work/$set.bed.err")"
        continue
      fi
      renders=$((renders + 1))
      # CRDs apart: kubectl's client-side schema check comes from the server's OpenAPI, and a
      # 1.20 server does not know x-kubernetes-validations (CEL rules, Kubernetes 1.25+), which
      # it drops; every other document keeps kubectl's full validation.
      "$python" - "$work/$set.bed.yaml" "$work/$set.crds.yaml" "$work/$set.rest.yaml" <<'PY'
import sys, yaml
src, crds, rest = sys.argv[1:]
docs = [d for d in yaml.safe_load_all(open(src)) if d]
yaml.safe_dump_all([d for d in docs if d["kind"] == "CustomResourceDefinition"], open(crds, "w"))
yaml.safe_dump_all([d for d in docs if d["kind"] != "CustomResourceDefinition"], open(rest, "w"))
PY
      for part in crds rest; do
        validate=true
        [[ $part == crds && $kv == v1.2[0-4].* ]] && validate=false
        if ! kubectl apply --dry-run=server --validate=$validate -f "$work/$set.$part.yaml" >"$work/$set.$part.apply" 2>&1; then
          err "$set values ($part): kubectl apply --dry-run=server failed:"
          grep -iv "(server dry run)" "$work/$set.$part.apply" | sed 's/^/  /' >&2
        fi
      done
    done

    # A real release (helm install): the bed's AWS endpoint, and a selector of its own so that its
    # operator (run below) touches only this test's objects.
    id="$$" label="emr-on-eks.dev/chart-test"
    release_values=(--set "aws.endpointUrl=$AWS_ENDPOINT_URL" --set "aws.region=$AWS_REGION" --set "operator.selector=$label=$id")
    # Helm v4 applies crds/ server-side, which servers older than 1.25 refuse for these CRDs (CEL
    # rules unknown to their schema): there they are applied with kubectl first (demo-setup.sh;
    # the same files, `make crds-check`) and Helm skips them, as deploy/README tells users to.
    skip_crds=()
    [[ $kv == v1.2[0-4].* ]] && skip_crds=(--skip-crds)
    installed=""
    if [[ -s $work/default.bed.yaml ]]; then
      cleanup_cmds+=("helm uninstall --name $release --namespace $tns")
      "$repo/scripts/demo-setup.sh" >/dev/null
      if ! installed="$(helm install "$chart" --name "$release" --namespace "$tns" "${release_values[@]}" "${skip_crds[@]}" 2>&1)"; then
        err "helm install failed: $installed"
        installed=""
      elif [[ $installed != '{"revision": 1, "status": "deployed"}' ]]; then
        err "helm install: release is $installed, want revision 1 deployed"
      fi
    fi
    # RBAC: the release's ServiceAccount asked what it can and cannot do.
    if [[ -n $installed ]]; then
      kubectl get deployment -n "$tns" -o json >"$work/deployment.json"
      read -r sa emr_role lease < <("$python" - "$work/deployment.json" <<'PY'
import json, sys
spec = json.load(open(sys.argv[1]))["items"][0]["spec"]["template"]["spec"]
args = spec["containers"][0]["args"]
flag = lambda name: next(a.split("=", 1)[1] for a in args if a.startswith(f"--{name}="))
print(spec["serviceAccountName"], flag("emr-containers-cluster-role"), flag("lease-name"))
PY
      )
      if [[ -z ${lease:-} ]]; then
        err "the installed Deployment lacks a service account, --emr-containers-cluster-role or --lease-name"
      else
        as="system:serviceaccount:$tns:$sa"
        can() { [[ "$(kubectl auth can-i "$@" --as="$as" 2>/dev/null)" == yes ]]; }
        for _ in $(seq 20); do # the authorizer's RBAC cache catches up within a second or so
          can bind "clusterroles.rbac.authorization.k8s.io/$emr_role" && can update "leases.coordination.k8s.io/$lease" -n "$tns" \
            && can update configmaps/aws-auth -n kube-system && break
          sleep 0.5
        done
        tenant=default
        allowed=(
          "bind clusterroles.rbac.authorization.k8s.io/$emr_role"
          "create rolebindings.rbac.authorization.k8s.io -n $tenant"
          "delete rolebindings.rbac.authorization.k8s.io/emr-containers -n $tenant"
          "delete roles.rbac.authorization.k8s.io/emr-containers -n $tenant"
          "create namespaces"
          "create serviceaccounts -n $tenant"
          "patch resourcequotas -n $tenant"
          "patch networkpolicies.networking.k8s.io -n $tenant"
          "get configmaps/aws-auth -n kube-system"
          "watch configmaps/aws-auth -n kube-system"
          "update configmaps/aws-auth -n kube-system"
          "create leases.coordination.k8s.io -n $tns"
          "update leases.coordination.k8s.io/$lease -n $tns"
          "patch namespaces"
          # The preflight's cache: LimitRanges and ResourceQuotas of every namespace, read only.
          "list limitranges -A" "watch limitranges -A" "list resourcequotas -A" "watch resourcequotas -A"
          "watch sparkjobtemplates.emr-on-eks.dev -A" "patch sparkjobtemplates.emr-on-eks.dev/status -n $tenant"
          "watch securityconfigurations.emr-on-eks.dev" "patch securityconfigurations.emr-on-eks.dev/status"
          "create sparkjobruns.emr-on-eks.dev -n $tenant"
          "delete sparkjobruns.emr-on-eks.dev -n $tenant"
          "watch scheduledsparkjobruns.emr-on-eks.dev -A"
          "patch scheduledsparkjobruns.emr-on-eks.dev --subresource=status -n $tenant"
          "get priorityclasses.scheduling.k8s.io/high-priority"
        )
        refused=(
          "list secrets -A" "watch secrets -A" "get secrets -n $tenant" "create secrets -n $tenant"
          "create pods -n $tenant" "create pods -n kube-system"
          "patch configmaps -n $tenant" "patch configmaps/coredns -n kube-system"
          "update configmaps/kube-proxy -n kube-system" "create configmaps -n kube-system" "list configmaps -n kube-system"
          "delete configmaps/aws-auth -n kube-system" "patch configmaps/aws-auth -n $tenant"
          "create leases.coordination.k8s.io -n kube-system" "update leases.coordination.k8s.io/kube-scheduler -n kube-system"
          "escalate roles.rbac.authorization.k8s.io -n $tenant" "escalate clusterroles.rbac.authorization.k8s.io"
          "bind clusterroles.rbac.authorization.k8s.io/cluster-admin" "bind clusterroles.rbac.authorization.k8s.io/admin"
          "bind clusterroles.rbac.authorization.k8s.io/edit" "bind roles.rbac.authorization.k8s.io -n $tenant"
          "create roles.rbac.authorization.k8s.io -n $tenant" "patch roles.rbac.authorization.k8s.io/emr-containers -n $tenant"
          "list roles.rbac.authorization.k8s.io -A" "delete roles.rbac.authorization.k8s.io/admin-role -n $tenant"
          "create clusterroles.rbac.authorization.k8s.io" "create clusterrolebindings.rbac.authorization.k8s.io"
          "create deployments.apps -n $tenant" "create jobs.batch -n $tenant" "create persistentvolumeclaims -n $tenant"
          "create ingresses.networking.k8s.io -n $tenant" "impersonate users" "impersonate serviceaccounts -A"
          # The preflight reads quota usage from ResourceQuota status (the controller-manager's),
          # never pods, and never writes that status.
          "list pods -A" "watch pods -A" "update resourcequotas/status -n $tenant"
          "update limitranges -n $tenant" "update resourcequotas -n $tenant"
          "create sparkjobtemplates.emr-on-eks.dev -n $tenant" "delete securityconfigurations.emr-on-eks.dev"
          "create scheduledsparkjobruns.emr-on-eks.dev -n $tenant" "patch scheduledsparkjobruns.emr-on-eks.dev -n $tenant"
          "list priorityclasses.scheduling.k8s.io" "create priorityclasses.scheduling.k8s.io"
          "delete priorityclasses.scheduling.k8s.io/high-priority"
        )
        for q in "${allowed[@]}"; do
          # shellcheck disable=SC2086
          can $q || err "the operator's account may not: kubectl auth can-i $q"
        done
        for q in "${refused[@]}"; do
          # shellcheck disable=SC2086
          if can $q; then err "the operator's account may: kubectl auth can-i $q"; fi
        done
        # The bind check itself (RBAC escalation prevention, on the server): a RoleBinding to EMR's
        # ClusterRole is allowed; to admin, or a Role with EMR's rules, is not.
        if ! kubectl create rolebinding emr-containers --clusterrole="$emr_role" --user=emr-containers -n "$tns" \
          --dry-run=server --as="$as" >"$work/bind.out" 2>&1; then
          err "the operator's account may not bind ClusterRole $emr_role: $(tr '\n' ' ' <"$work/bind.out")"
        fi
        if kubectl create rolebinding mallory --clusterrole=admin --user=mallory -n "$tns" --dry-run=server --as="$as" >/dev/null 2>&1; then
          err "the operator's account may bind ClusterRole admin"
        fi
        if kubectl create role emr-containers --verb=get --resource=secrets -n "$tns" --dry-run=server --as="$as" >/dev/null 2>&1; then
          err "the operator's account may create Roles"
        fi
      fi
    fi
    # helm upgrade (new poll intervals: revision 2), the operator run from the release's objects,
    # then helm uninstall.
    if [[ -n $installed && -n ${lease:-} ]]; then
      if ! upgraded="$(helm upgrade "$chart" --name "$release" --namespace "$tns" "${release_values[@]}" \
        --set operator.youngPollInterval=1s --set operator.pollInterval=5s "${skip_crds[@]}" 2>&1)"; then
        err "helm upgrade failed: $upgraded"
      elif [[ $upgraded != '{"revision": 2, "status": "deployed"}' ]]; then
        err "helm upgrade: release is $upgraded, want revision 2 deployed"
      elif ! kubectl get deployment -n "$tns" -o json | jq -e '.items[0].spec.template.spec.containers[0].args | index("--young-poll-interval=1s")' >/dev/null; then
        err "helm upgrade: the Deployment's args lack --young-poll-interval=1s"
      elif [[ -z $op_bin ]]; then
        skipped+=("operator run from the release (no binary)")
      else
        run_release_operator && release_run=", operator from the release took the demo to COMPLETED"
      fi
      deployment="$(jq -r '.items[0].metadata.name' "$work/deployment.json")"
      if ! helm uninstall --name "$release" --namespace "$tns" >"$work/uninstall.out" 2>&1; then
        err "helm uninstall failed: $(cat "$work/uninstall.out")"
      else
        left=""
        for _ in $(seq 20); do
          left="$(kubectl get "deployment/$deployment" "serviceaccount/$sa" "role/$lease" -n "$tns" -o name 2>/dev/null
            kubectl get "clusterrole/$emr_role" -o name 2>/dev/null
            kubectl get secret -n "$tns" -l "owner=helm,name=$release" -o name)"
          [[ -z $left ]] && break
          sleep 0.5
        done
        [[ -z $left ]] || err "helm uninstall left: $(tr '\n' ' ' <<<"$left")"
        if helm status --name "$release" --namespace "$tns" >/dev/null 2>&1; then
          err "helm status still finds release $release after uninstall"
        fi
      fi
    fi
    ((fail)) || server=", server dry-run, install, RBAC can/cannot, upgrade, uninstall ok (kube $kv)${release_run:-}"
  fi
else
  skipped+=("server dry-run (no test bed)")
fi

if ((fail)); then
  echo "chart: FAILED ($renders renders, $documents documents)" >&2
  exit 1
fi
summary="chart: $renders renders, $documents documents, helm lint --strict, IAM policy and values docs ok$binary_check$server"
if ((${#skipped[@]})); then
  joined="$(printf '%s, ' "${skipped[@]}")"
  summary+="; skipped: ${joined%, }"
fi
echo "$summary"
