#!/usr/bin/env bash
# Tests the Helm chart deploy/helm/emr-on-eks-operator without a helm binary.
#
#  1. tests/chart/test-renderer.sh: the renderer's own self-test against Helm behaviour;
#     tests/chart/check-iam-policy.py: deploy/iam/operator-policy.json grants exactly the AWS
#     calls of crates/emr-aws/src/operation.rs; check-values-docs.py: every value is documented.
#  2. Renders the chart (crds/ included) with default values and with values-all.yaml (every
#     optional part on), each under both number models of Helm 3 (json.Number and the older
#     float64) which must agree; check_manifests.py checks every document (parses, apiVersion/
#     kind/metadata.name, namespaces, hardening, RBAC rules equal to the chart's files/).
#  3. When .testbed/env exists: renders again with the test bed's own Kubernetes version and API
#     versions (what `helm install` discovers), creates a scratch namespace for the release,
#     installs a minimal ServiceMonitor CRD if the cluster has none, and submits everything with
#     `kubectl apply --dry-run=server`. Then it applies the rendered ServiceAccount, ClusterRoles,
#     Roles and bindings for real (unique names) and asks `kubectl auth can-i` as the operator's
#     ServiceAccount what it can do (bind EMR's ClusterRole, create RoleBindings, namespaces and
#     service accounts, update aws-auth, its own Lease) and what it cannot (secrets, pods, other
#     ConfigMaps, kube-system Leases, escalate, bind any other role, create Roles); and has it
#     create a RoleBinding to EMR's ClusterRole with --dry-run=server (allowed) and to admin
#     (refused). Everything it created is deleted again (the ServiceMonitor CRD stays).
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
  rm -rf "$work"
}
trap cleanup EXIT

python="$(command -v python3)"
"$python" -c 'import yaml' 2>/dev/null || python=/usr/bin/python3
"$python" -c 'import yaml' 2>/dev/null || { echo "chart: python3 with PyYAML needed (tests/chart/install-deps.sh)" >&2; exit 2; }

"$here/test-renderer.sh" || err "renderer self-test failed"
"$python" "$here/check-iam-policy.py" >&2 || err "deploy/iam/operator-policy.json does not match crates/emr-aws/src/operation.rs"
"$python" "$here/check-values-docs.py" "$chart/values.yaml" >&2 || err "values.yaml has undocumented values"
bin="$("$here/build-renderer.sh")"

renders=0 documents=0
ns=emr-on-eks-operator
for set in default all no-aws-auth; do
  vals=()
  [[ $set == all ]] && vals=(-f "$here/values-all.yaml")
  [[ $set == no-aws-auth ]] && vals=(-f "$here/values-no-aws-auth.yaml")
  if ! "$bin" --name emr-on-eks-operator --namespace "$ns" --include-crds "${vals[@]}" "$chart" >"$work/$set.yaml" 2>"$work/$set.err"; then
    err "$set values: $(cat "$work/$set.err")"
    continue
  fi
  renders=$((renders + 1))
  if ! "$bin" --float-numbers --name emr-on-eks-operator --namespace "$ns" --include-crds "${vals[@]}" "$chart" >"$work/$set.float.yaml" 2>&1; then
    err "$set values with float64 numbers: $(cat "$work/$set.float.yaml")"
  elif ! cmp -s "$work/$set.yaml" "$work/$set.float.yaml"; then
    err "$set values: output depends on Helm's number model (json.Number vs float64): $(diff "$work/$set.yaml" "$work/$set.float.yaml" | head -3 | tr '\n' ' ')"
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

server=""
if [[ -f $repo/.testbed/env && -z ${CHART_TEST_NO_BED:-} ]]; then
  # shellcheck disable=SC1091
  source "$repo/.testbed/env"
  if ! version_json="$(kubectl version -o json 2>/dev/null)" || ! kv="$(jq -er .serverVersion.gitVersion <<<"$version_json")"; then
    err "the test bed's API server does not answer (KUBECONFIG=$KUBECONFIG); is tests/bed/up.sh running?"
  else
    kv="${kv%%+*}"
    apis=()
    while read -r gv; do apis+=(--api-versions "$gv"); done < <(kubectl api-versions)
    release="emr-chart-test-$$"
    tns="$release"
    kubectl create namespace "$tns" >/dev/null
    cleanup_cmds+=("kubectl delete namespace $tns --wait=false")
    if ! kubectl get crd prometheusrules.monitoring.coreos.com >/dev/null 2>&1; then
      kubectl apply -f "$here/prometheusrule-crd.yaml" >/dev/null
      kubectl wait --for condition=established --timeout=30s crd/prometheusrules.monitoring.coreos.com >/dev/null
    fi
    if ! kubectl get crd servicemonitors.monitoring.coreos.com >/dev/null 2>&1; then
      kubectl apply -f "$here/servicemonitor-crd.yaml" >/dev/null
      kubectl wait --for condition=established --timeout=30s crd/servicemonitors.monitoring.coreos.com >/dev/null
      # discovery now lists the group: add it, as helm install would see it
      apis+=(--api-versions monitoring.coreos.com/v1)
    fi
    for set in default all; do
      vals=()
      [[ $set == all ]] && vals=(-f "$here/values-all.yaml")
      if ! "$bin" --name "$release" --namespace "$tns" --include-crds --kube-version "$kv" --only-api-versions "${apis[@]}" "${vals[@]}" "$chart" >"$work/$set.bed.yaml" 2>"$work/$set.bed.err"; then
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

    # RBAC: the chart's ServiceAccount, ClusterRoles, Roles and bindings applied for real (unique
    # names), then asked what the operator's account can and cannot do.
    if [[ -s $work/default.bed.yaml ]]; then
      read -r sa emr_role lease < <("$python" - "$work/default.bed.yaml" "$work/rbac.yaml" <<'PY'
import sys, yaml
src, dst = sys.argv[1:]
docs = [d for d in yaml.safe_load_all(open(src)) if d]
kinds = ("ServiceAccount", "ClusterRole", "ClusterRoleBinding", "Role", "RoleBinding")
yaml.safe_dump_all([d for d in docs if d["kind"] in kinds], open(dst, "w"))
sa = next(d for d in docs if d["kind"] == "ServiceAccount")["metadata"]["name"]
args = next(d for d in docs if d["kind"] == "Deployment")["spec"]["template"]["spec"]["containers"][0]["args"]
flag = lambda name: next(a.split("=", 1)[1] for a in args if a.startswith(f"--{name}="))
print(sa, flag("emr-containers-cluster-role"), flag("lease-name"))
PY
      )
      cleanup_cmds+=("kubectl delete --wait=false -f $work/rbac.yaml")
      if ! kubectl apply -f "$work/rbac.yaml" >"$work/rbac.out" 2>&1; then
        err "applying the chart's RBAC failed: $(tr '\n' ' ' <"$work/rbac.out")"
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
    ((fail)) || server=", server dry-run and RBAC can/cannot ok (kube $kv)"
  fi
else
  skipped+=("server dry-run (no test bed)")
fi

if ((fail)); then
  echo "chart: FAILED ($renders renders, $documents documents)" >&2
  exit 1
fi
summary="chart: $renders renders, $documents documents, renderer self-test, IAM policy and values docs ok$binary_check$server"
if ((${#skipped[@]})); then
  joined="$(printf '%s, ' "${skipped[@]}")"
  summary+="; skipped: ${joined%, }"
fi
echo "$summary"
