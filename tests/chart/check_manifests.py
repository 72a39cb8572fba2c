#!/usr/bin/env python3
"""Checks a rendered chart (multi-document YAML on stdin, `helm template` format).

usage: check_manifests.py RELEASE_NAMESPACE EMR_CONTAINERS_RULES_FILE < manifests.yaml

Every document must parse and carry apiVersion, kind and metadata.name; namespaced objects of the
chart must be in the release namespace; no two objects may share kind/namespace/name; the
Deployment must keep its hardening; and the operator's ClusterRole must hold every rule of the
emr-containers Role (RBAC escalation prevention). Prints the number of documents; failures go to
stderr, one per line, and make the exit status 1.
"""
import sys

import yaml

CLUSTER_SCOPED = {"CustomResourceDefinition", "ClusterRole", "ClusterRoleBinding", "PriorityClass", "Namespace"}


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
    namespace, rules_file = sys.argv[1], sys.argv[2]
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
        if kind and kind not in CLUSTER_SCOPED and meta.get("namespace") != namespace and kind != "ServiceMonitor":
            errors.append(f"{where}: namespace {meta.get('namespace')!r}, want {namespace!r}")
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

    with open(rules_file) as f:
        wanted = yaml.safe_load(f)
    operator_roles = [
        r for r in by_kind.get("ClusterRole", [])
        if not any(k.startswith("rbac.authorization.k8s.io/aggregate-to-") for k in (r["metadata"].get("labels") or {}))
    ]
    if len(operator_roles) != 1:
        if by_kind.get("Deployment") and any(k == "ClusterRoleBinding" for k in by_kind):
            errors.append(f"expected one operator ClusterRole, found {len(operator_roles)}")
    else:
        rules = operator_roles[0].get("rules") or []
        for rule in wanted:
            for g in rule["apiGroups"]:
                for res in rule["resources"]:
                    missing = [v for v in rule["verbs"] if not covers(rules, g, res, v)]
                    if missing:
                        errors.append(
                            f"ClusterRole {operator_roles[0]['metadata']['name']}: lacks "
                            f"{','.join(missing)} on {res} (group {g!r}), which the emr-containers "
                            "Role grants (RBAC escalation prevention)")

    for e in errors:
        print(f"check: {e}", file=sys.stderr)
    print(len(docs))
    return 1 if errors else 0


if __name__ == "__main__":
    sys.exit(main())
