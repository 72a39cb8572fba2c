#!/usr/bin/env python3
"""Checks a rendered chart (multi-document YAML on stdin, `helm template` format).

usage: check_manifests.py RELEASE_NAMESPACE CHART_FILES_DIR < manifests.yaml

Every document must parse and carry apiVersion, kind and metadata.name; namespaced objects of the
chart must be in the release namespace (the aws-auth Role and its binding in kube-system); no two
objects may share kind/namespace/name; the Deployment must keep its hardening. RBAC: the
operator's ClusterRole is exactly files/clusterrole-rules.yaml plus `bind`/`get` on the
emr-containers ClusterRole by name (the one the Deployment passes with
--emr-containers-cluster-role), and grants none of EMR's rights; that ClusterRole is exactly
files/emr-containers-rules.yaml; the ValidatingAdmissionPolicy, when rendered, names it. Prints the
number of documents; failures go to stderr, one per line, and make the exit status 1.
"""
import sys

import yaml

import os

CLUSTER_SCOPED = {"CustomResourceDefinition", "ClusterRole", "ClusterRoleBinding", "PriorityClass", "Namespace",
                  "ValidatingAdmissionPolicy", "ValidatingAdmissionPolicyBinding"}
# What the operator's own rules must never grant (it binds EMR's rules, it does not hold them).
FORBIDDEN = [("", "secrets"), ("", "pods"), ("", "configmaps"), ("", "persistentvolumeclaims"), ("apps", "deployments"),
             ("batch", "jobs"), ("networking.k8s.io", "ingresses"), ("coordination.k8s.io", "leases"),
             ("rbac.authorization.k8s.io", "clusterroles"), ("rbac.authorization.k8s.io", "clusterrolebindings")]


def covers(rules, group, resource, verb):
    for r in rules:
        if r.get("resourceNames") or r.get("nonResourceURLs"):
            continue
        if not (set(r.get("apiGroups") or []) & {group, "*"}):
            continue
        if not (set(r.get("resources") or []) & {resource, "*"}):
            continue
        if set(r.get("verbs") or []) & {verb, "*"}:
            return True
    return False


def main():
    namespace, files = sys.argv[1], sys.argv[2]
    errors = []
    docs = [d for d in yaml.safe_load_all(sys.stdin.read()) if d is not None]
    seen = set()
    for i, d in enumerate(docs):
        where = f"document {i + 1}"
        if not isinstance(d, dict):
            errors.append(f"{where}: not a mapping")
            continue
        kind, meta = d.get("kind"), d.get("metadata") or {}
        where = f"{kind or '?'}/{meta.get('name', '?')}"
        for field, value in (("apiVersion", d.get("apiVersion")), ("kind", kind), ("metadata.name", meta.get("name"))):
            if not value or not isinstance(value, str):
                errors.append(f"{where}: missing {field}")
        aws_auth_rbac = kind in ("Role", "RoleBinding") and meta.get("name", "").endswith("-aws-auth")
        want_ns = "kube-system" if aws_auth_rbac else namespace
        if kind and kind not in CLUSTER_SCOPED and meta.get("namespace") != want_ns and kind != "ServiceMonitor":
            errors.append(f"{where}: namespace {meta.get('namespace')!r}, want {want_ns!r}")
        key = (kind, meta.get("namespace"), meta.get("name"))
        if key in seen:
            errors.append(f"{where}: defined twice")
        seen.add(key)

    by_kind = {}
    for d in docs:
        if isinstance(d, dict):
            by_kind.setdefault(d.get("kind"), []).append(d)

    for dep in by_kind.get("Deployment", []):
        pod = dep["spec"]["template"]["spec"]
        psc = pod.get("securityContext") or {}
        if not psc.get("runAsNonRoot"):
            errors.append("Deployment: pod securityContext.runAsNonRoot is not true")
        for c in pod["containers"]:
            sc = c.get("securityContext") or {}
            name = f"Deployment container {c['name']}"
            if not sc.get("readOnlyRootFilesystem"):
                errors.append(f"{name}: readOnlyRootFilesystem is not true")
            if sc.get("allowPrivilegeEscalation") is not False:
                errors.append(f"{name}: allowPrivilegeEscalation is not false")
            if "ALL" not in ((sc.get("capabilities") or {}).get("drop") or []):
                errors.append(f"{name}: capabilities.drop lacks ALL")
            seccomp = (sc.get("seccompProfile") or psc.get("seccompProfile") or {}).get("type")
            if seccomp != "RuntimeDefault":
                errors.append(f"{name}: seccompProfile is {seccomp!r}, want RuntimeDefault")
            if not (c.get("resources") or {}).get("requests"):
                errors.append(f"{name}: no resource requests")
            for probe, path in (("livenessProbe", "/healthz"), ("readinessProbe", "/readyz")):
                got = ((c.get(probe) or {}).get("httpGet") or {}).get("path")
                if got != path:
                    errors.append(f"{name}: {probe} path {got!r}, want {path}")
            env = {e["name"]: e for e in c.get("env") or []}
            for var, field in (("POD_NAME", "metadata.name"), ("POD_NAMESPACE", "metadata.namespace")):
                got = ((env.get(var) or {}).get("valueFrom") or {}).get("fieldRef", {}).get("fieldPath")
                if got != field:
                    errors.append(f"{name}: env {var} is not the fieldRef {field}")

    def load(name):
        with open(os.path.join(files, name)) as f:
            return yaml.safe_load(f)

    roles = {r["metadata"]["name"]: r for r in by_kind.get("ClusterRole", [])}
    deployments = by_kind.get("Deployment", [])
    emr_role = None
    for dep in deployments:
        for arg in dep["spec"]["template"]["spec"]["containers"][0].get("args") or []:
            if arg.startswith("--emr-containers-cluster-role="):
                emr_role = arg.split("=", 1)[1]
    if deployments and not emr_role:
        errors.append("Deployment: no --emr-containers-cluster-role argument")
    operator_bindings = [b for b in by_kind.get("ClusterRoleBinding", [])]
    if operator_bindings:
        if len(operator_bindings) != 1:
            errors.append(f"expected one ClusterRoleBinding, found {len(operator_bindings)}")
        name = operator_bindings[0]["roleRef"]["name"]
        operator_rules = (roles.get(name) or {}).get("rules")
        bind = {"apiGroups": ["rbac.authorization.k8s.io"], "resources": ["clusterroles"],
                "resourceNames": [emr_role], "verbs": ["bind", "get"]}
        if operator_rules != load("clusterrole-rules.yaml") + [bind]:
            errors.append(f"ClusterRole {name}: rules are not files/clusterrole-rules.yaml plus bind/get on "
                          f"ClusterRole {emr_role}")
        for rule in operator_rules or []:
            if "*" in (rule.get("verbs") or []) + (rule.get("resources") or []) + (rule.get("apiGroups") or []):
                errors.append(f"ClusterRole {name}: wildcard in {rule}")
        for group, resource in FORBIDDEN:
            granted = [v for v in ("get", "list", "watch", "create", "update", "patch", "delete", "escalate", "bind")
                       if covers(operator_rules or [], group, resource, v)]
            if granted:
                errors.append(f"ClusterRole {name}: grants {','.join(granted)} on {resource} (group {group!r})")
        emr = roles.get(emr_role)
        if emr is None:
            errors.append(f"no ClusterRole {emr_role} (EMR's rules), which the Deployment names")
        elif emr.get("rules") != load("emr-containers-rules.yaml"):
            errors.append(f"ClusterRole {emr_role}: rules are not files/emr-containers-rules.yaml")
    for policy in by_kind.get("ValidatingAdmissionPolicy", []):
        text = yaml.safe_dump(policy)
        if "EMR_CONTAINERS_CLUSTER_ROLE" in text or f"'{emr_role}'" not in text:
            errors.append(f"ValidatingAdmissionPolicy {policy['metadata']['name']}: does not name ClusterRole {emr_role}")
    for binding in by_kind.get("ValidatingAdmissionPolicyBinding", []):
        names = [p["metadata"]["name"] for p in by_kind.get("ValidatingAdmissionPolicy", [])]
        if binding["spec"].get("policyName") not in names or binding["spec"].get("validationActions") != ["Deny"]:
            errors.append(f"ValidatingAdmissionPolicyBinding {binding['metadata']['name']}: not a Deny binding of the policy")

    for e in errors:
        print(f"check: {e}", file=sys.stderr)
    print(len(docs))
    return 1 if errors else 0


if __name__ == "__main__":
    sys.exit(main())
