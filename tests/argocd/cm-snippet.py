#!/usr/bin/env python3
"""Writes (or, with --check, verifies) deploy/argocd/argocd-cm-snippet.yaml from the health
scripts next to it, so the snippet always carries the tested Lua. Exit 1 when --check finds it
stale."""
import os
import sys

here = os.path.dirname(os.path.abspath(__file__))
argocd = os.path.join(here, "..", "..", "deploy", "argocd")
target = os.path.join(argocd, "argocd-cm-snippet.yaml")

HEAD = """\
# Argo CD settings for emr-on-eks-operator: merge these keys into the argocd-cm ConfigMap of your
# Argo CD installation (kubectl -n argocd patch configmap argocd-cm --patch-file this-file, or
# the `configs.cm` values of the argo-cd Helm chart). Generated from health-*.lua by
# tests/argocd/cm-snippet.py; do not edit the scripts here, edit the .lua files.
apiVersion: v1
kind: ConfigMap
metadata:
  name: argocd-cm
  namespace: argocd
  labels:
    app.kubernetes.io/name: argocd-cm
    app.kubernetes.io/part-of: argocd
data:
  # Health: Progressing while a job waits or runs, Healthy when it succeeded, Degraded when it
  # failed or was cancelled (sync waves and hooks wait for exactly that).
"""

TAIL = """\
  # Drift: fields the operator writes (status, finalizers, labels and annotations it adds to
  # objects it adopts, such as a namespace kept in Git) are owned by its field manager
  # `emr-on-eks-operator`; never show them as differences.
  resource.customizations.ignoreDifferences.all: |
    managedFieldsManagers:
      - emr-on-eks-operator
  # Status is the operator's, never Git's (the default in Argo CD 2.x is `crd`; 3.x uses `all`).
  resource.compareoptions: |
    ignoreResourceStatusField: crd
"""


def render():
    out = [HEAD]
    for kind, script in (
        ("SparkJobRun", "health-sparkjobrun.lua"),
        ("VirtualCluster", "health-virtualcluster.lua"),
        ("SparkJobTemplate", "health-emr-object.lua"),
        ("SecurityConfiguration", "health-emr-object.lua"),
        ("ScheduledSparkJobRun", "health-scheduledsparkjobrun.lua"),
    ):
        with open(os.path.join(argocd, script)) as f:
            lua = f.read()
        out.append(f"  resource.customizations.health.emr-on-eks.dev_{kind}: |\n")
        out.extend(("    " + line if line.strip() else "") + "\n" for line in lua.rstrip("\n").split("\n"))
    out.append(TAIL)
    return "".join(out)


def main():
    text = render()
    if sys.argv[1:] == ["--check"]:
        current = open(target).read() if os.path.exists(target) else ""
        if current != text:
            print("deploy/argocd/argocd-cm-snippet.yaml is stale: run tests/argocd/cm-snippet.py")
            return 1
        return 0
    with open(target, "w") as f:
        f.write(text)
    return 0


if __name__ == "__main__":
    sys.exit(main())
