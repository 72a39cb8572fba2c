#!/usr/bin/env bash
# What `make demo` (and the image test, tests/image/test-image.sh) prepare on a running bed before
# starting an operator: what a platform team already has in AWS (an EKS cluster with an OIDC
# issuer, a job role), the CRDs, the operator's least-privilege RBAC for the bed's operator user
# (the chart's rule files), and the aws-auth ConfigMap EKS makes. Idempotent.
set -euo pipefail
cd "$(dirname "$0")/.."
ROOT=$PWD
[[ -f .testbed/env ]] || { echo "demo-setup: no bed running (make testbed)" >&2; exit 1; }
# shellcheck disable=SC1091
source .testbed/env
PY="$ROOT/tests/bed/.venv/bin/python"
step() { printf '\n\033[1m==> %s\033[0m\n' "$*"; }

step "In the AWS emulator: an EKS cluster 'demo-eks' and the job role 'emr-demo-job-role'"
"$PY" - <<'PY'
import json, boto3, botocore
kw = dict(region_name="us-east-1")
eks, iam = boto3.client("eks", **kw), boto3.client("iam", **kw)
try:
    eks.create_cluster(name="demo-eks", roleArn="arn:aws:iam::123456789012:role/eks",
                       resourcesVpcConfig={"subnetIds": ["subnet-1"]})
except botocore.exceptions.ClientError as e:
    if e.response["Error"]["Code"] != "ResourceInUseException":
        raise
trust = {"Version": "2012-10-17", "Statement": [{"Effect": "Allow",
         "Principal": {"Service": "elasticmapreduce.amazonaws.com"}, "Action": "sts:AssumeRole"}]}
try:
    iam.create_role(RoleName="emr-demo-job-role", AssumeRolePolicyDocument=json.dumps(trust))
except iam.exceptions.EntityAlreadyExistsException:
    pass
print("  eks cluster demo-eks, OIDC issuer", eks.describe_cluster(name="demo-eks")["cluster"]["identity"]["oidc"]["issuer"])
PY

step "Installing the CRDs and the operator's least-privilege RBAC (the chart's rule files)"
# --validate=false: the 1.20 bed does not know x-kubernetes-validations (clusters 1.25+ do).
kubectl apply --validate=false -f deploy/crds/ >/dev/null
# Retried: 1.20's kubectl wait fails at once while a new CRD has no conditions yet.
for _ in $(seq 60); do
  kubectl wait --for=condition=Established crd/virtualclusters.emr-on-eks.dev crd/sparkjobruns.emr-on-eks.dev >/dev/null 2>&1 && break
  sleep 0.5
done
kubectl wait --for=condition=Established crd/virtualclusters.emr-on-eks.dev crd/sparkjobruns.emr-on-eks.dev >/dev/null
"$PY" - "$ROOT/deploy/helm/emr-on-eks-operator/files" <<'PY' | kubectl apply -f - >/dev/null
import json, os, sys, yaml
files = sys.argv[1]
rules = lambda f: yaml.safe_load(open(os.path.join(files, f)))
name, emr = "emr-on-eks-operator-demo", "emr-on-eks-operator-emr-containers"  # the binary's default
rbac = "rbac.authorization.k8s.io"
user = [{"apiGroup": rbac, "kind": "User", "name": "emr-on-eks-operator-test"}]
bind = {"apiGroups": [rbac], "resources": ["clusterroles"], "resourceNames": [emr], "verbs": ["bind", "get"]}
def role(kind, ns, rules_):
    meta = {"name": name, **({"namespace": ns} if ns else {})}
    return [{"apiVersion": f"{rbac}/v1", "kind": kind, "metadata": meta, "rules": rules_},
            {"apiVersion": f"{rbac}/v1", "kind": kind + "Binding", "metadata": meta,
             "roleRef": {"apiGroup": rbac, "kind": kind, "name": name}, "subjects": user}]
items = role("ClusterRole", None, rules("clusterrole-rules.yaml") + [bind])
items += role("Role", "kube-system", rules("aws-auth-rules.yaml"))
items += role("Role", "default", rules("leader-election-rules.yaml"))
items.append({"apiVersion": f"{rbac}/v1", "kind": "ClusterRole", "metadata": {"name": emr},
              "rules": rules("emr-containers-rules.yaml")})
print(json.dumps({"apiVersion": "v1", "kind": "List", "items": items}))
PY
# EKS makes aws-auth for its node groups; the operator adds to it but never creates it.
kubectl get configmap aws-auth -n kube-system >/dev/null 2>&1 || kubectl create configmap aws-auth -n kube-system \
  --from-literal=mapRoles='- {rolearn: "arn:aws:iam::123456789012:role/eks-node-role", username: "system:node:{{EC2PrivateDNSName}}", groups: [system:bootstrappers, system:nodes]}' >/dev/null
