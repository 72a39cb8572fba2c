#!/usr/bin/env python3
"""Helm for the chart tests, without a helm binary: PyPI's helm-python-sdk, which bundles Helm v4's
own Go SDK as a C library (libhelm_c). Run it with the chart venv (tests/chart/.venv, made by
tests/chart/install-deps.sh).

    helm.py lint CHART [-f VALUES]...                       helm lint --strict (each values set)
    helm.py template CHART [-f VALUES]... [--set K=V]... [--name N] [--namespace NS]
                     [--include-crds] [--server]            helm template; --server: rendered by
                                                            an install --dry-run=server against
                                                            $KUBECONFIG (its version and APIs)
    helm.py install|upgrade CHART --name N --namespace NS [-f VALUES]... [--set K=V]... [--skip-crds]
    helm.py uninstall --name N --namespace NS
    helm.py status --name N --namespace NS                  {"revision", "status"} as JSON

--skip-crds (helm's flag; the SDK has none, so the chart is copied without crds/): Helm v4 installs
crds/ with server-side apply, which a cluster older than 1.25 refuses for these CRDs (their
x-kubernetes-validations is not in its schema); there the CRDs are applied first with kubectl.

Values files are merged in order, then --set (Helm's own --set parser); Helm coalesces them with
the chart's defaults. Errors: one line on stderr (Helm's message), exit status 1.
"""
import argparse
import json
import os
import shutil
import sys
import tempfile

import helm_python as helm
import yaml


def merged(files, sets):
    def merge(dst, src):
        for key, value in src.items():
            if isinstance(value, dict) and isinstance(dst.get(key), dict):
                merge(dst[key], value)
            else:
                dst[key] = value
        return dst

    values = {}
    for f in files:
        with open(f) as fh:
            merge(values, yaml.safe_load(fh) or {})
    for s in sets:
        merge(values, helm.parse_set_string(s))
    return values


def config(namespace):
    return helm.Config(kubeconfig_path=os.environ.get("KUBECONFIG"), namespace=namespace)


def lint(args):
    bad = 0
    for files in [[]] + [[f] for f in args.values]:
        report = helm.lint(args.chart, merged(files, []), strict=True, namespace=args.namespace)
        for m in report["messages"]:
            # severity 1 = info (e.g. "icon is recommended"), 2 = warning, 3 = error
            if m["severity"] >= 2:
                print(f"lint {' '.join(files) or 'default values'}: {m['path']}: {m['error']}", file=sys.stderr)
                bad += 1
        for e in report.get("errors") or []:
            print(f"lint {' '.join(files) or 'default values'}: {e}", file=sys.stderr)
            bad += 1
    print(f"lint --strict: {1 + len(args.values)} value sets, {bad} problems")
    return 1 if bad else 0


def template(args):
    chart = helm.Chart.load(args.chart)
    values = merged(args.values, args.set)
    docs = []
    if args.include_crds:
        docs += [(c["filename"], c["data"]) for c in chart.crds]
    if args.server:
        release = config(args.namespace).install(
            chart, args.name, values, namespace=args.namespace, dry_run="server")
        print(("\n---\n".join(d for _, d in docs) + "\n" if docs else "") + release["manifest"])
        return 0
    rendered = chart.render(values, name=args.name, namespace=args.namespace, is_install=True)
    docs += sorted((path, body) for path, body in rendered.items()
                   if not path.endswith("NOTES.txt") and body.strip())
    print("\n".join(f"---\n# Source: {path}\n{body.strip()}" for path, body in docs))
    return 0


def install(args):
    if args.skip_crds:
        with tempfile.TemporaryDirectory() as tmp:
            copy = os.path.join(tmp, os.path.basename(os.path.normpath(args.chart)))
            shutil.copytree(args.chart, copy, ignore=lambda d, names: ["crds"] if d == args.chart else [])
            args.chart, args.skip_crds = copy, False
            return install(args)
    chart = helm.Chart.load(args.chart)
    values = merged(args.values, args.set)
    cfg = config(args.namespace)
    if args.command == "install":
        release = cfg.install(chart, args.name, values, namespace=args.namespace, create_namespace=True, timeout=120)
    else:
        release = cfg.upgrade(chart, args.name, values, namespace=args.namespace, timeout=120)
    print(json.dumps({"revision": release["revision"], "status": release["status"]}))
    return 0


def uninstall(args):
    config(args.namespace).uninstall(args.name, timeout=120, wait="watcher")
    return 0


def status(args):
    release = config(args.namespace).status(args.name)
    print(json.dumps({"revision": release["revision"], "status": release["status"]}))
    return 0


def main():
    p = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    p.add_argument("command", choices=["lint", "template", "install", "upgrade", "uninstall", "status"])
    p.add_argument("chart", nargs="?")
    p.add_argument("-f", "--values", action="append", default=[])
    p.add_argument("--set", action="append", default=[])
    p.add_argument("--name", default="emr-on-eks-operator")
    p.add_argument("--namespace", default="emr-on-eks-operator")
    p.add_argument("--include-crds", action="store_true")
    p.add_argument("--server", action="store_true")
    p.add_argument("--skip-crds", action="store_true")
    args = p.parse_args()
    if args.command in ("lint", "template", "install", "upgrade") and not args.chart:
        p.error(f"{args.command} needs a CHART")
    helm.disable_logging()
    action = {"lint": lint, "template": template, "install": install, "upgrade": install,
              "uninstall": uninstall, "status": status}[args.command]
    try:
        return action(args)
    except helm.HelmError as e:
        print(f"helm {args.command}: {e}".replace("\n", " "), file=sys.stderr)
        return 1


if __name__ == "__main__":
    sys.exit(main())
