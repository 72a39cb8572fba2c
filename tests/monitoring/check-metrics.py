#!/usr/bin/env python3
"""Checks that every metric the Grafana dashboard and the chart's PrometheusRule use is one the
operator exports, by parsing every PromQL expression (PyPI's promql-parser) and comparing the
selected series names with a scrape of the running operator.

usage: check-metrics.py SCRAPE_FILE [--dashboard FILE] [--rules TEMPLATE] [--values FILE]

Also checks that the dashboard and the rules cover what they promise (panel titles, alert
names), so trimming either fails here. Prints one line per expression; exit 1 on a miss.
"""

import argparse
import json
import re
import sys
from pathlib import Path

import promql_parser
import yaml

REPO = Path(__file__).resolve().parents[2]
CHART = REPO / "deploy/helm/emr-on-eks-operator"

REQUIRED_PANELS = {
    "Job runs by state", "Submit latency", "Time to terminal by final state",
    "AWS calls by operation and outcome", "AWS throttles by operation",
    "Reconcile errors by controller and error", "Leader",
}
REQUIRED_ALERTS = {
    "EmrOnEksOperatorDown", "EmrOnEksOperatorNoLeader", "EmrOnEksOperatorReconcileErrors",
    "EmrOnEksOperatorAwsThrottled", "EmrOnEksOperatorAwsAccessDenied", "EmrOnEksJobRunsFailing",
    "EmrOnEksJobRunStatusStale",
}


def exported(scrape: str) -> set[str]:
    """Series names in a Prometheus/OpenMetrics text scrape, with each family's sample suffixes."""
    names: set[str] = set()
    suffixes = {"counter": ["_total"], "histogram": ["_bucket", "_sum", "_count"], "gauge": [""],
                "summary": ["", "_sum", "_count"], "info": ["_info"]}
    for line in scrape.splitlines():
        if line.startswith("# TYPE "):
            _, _, family, kind = line.split(maxsplit=3)
            names.update(family + s for s in suffixes.get(kind.strip(), [""]))
        elif line and not line.startswith("#"):
            names.add(re.split(r"[{\s]", line, maxsplit=1)[0])
    return names


def selected(expr: str) -> set[str]:
    """Metric names an expression selects (every vector and matrix selector)."""
    found: set[str] = set()

    def walk(node):
        if isinstance(node, promql_parser.VectorSelector):
            name = node.name or next((m.value for m in node.matchers.matchers if m.name == "__name__"), None)
            if not name:
                raise ValueError(f"a selector without a metric name in {expr!r}")
            found.add(name)
        elif isinstance(node, promql_parser.MatrixSelector):
            walk(node.vector_selector)
        elif isinstance(node, promql_parser.BinaryExpr):
            walk(node.lhs)
            walk(node.rhs)
        elif isinstance(node, promql_parser.Call):
            for arg in node.args:
                walk(arg)
        elif isinstance(node, (promql_parser.AggregateExpr, promql_parser.ParenExpr,
                               promql_parser.UnaryExpr, promql_parser.SubqueryExpr)):
            walk(node.expr)
            if isinstance(node, promql_parser.AggregateExpr) and node.param is not None:
                walk(node.param)
        elif not isinstance(node, (promql_parser.NumberLiteral, promql_parser.StringLiteral)):
            raise ValueError(f"unexpected PromQL node {type(node).__name__} in {expr!r}")

    walk(promql_parser.parse(expr))
    return found


def dashboard_exprs(path: Path) -> tuple[list[tuple[str, str]], set[str]]:
    dash = json.loads(path.read_text())
    exprs, titles = [], set()

    def panels(items):
        for p in items:
            yield p
            yield from panels(p.get("panels", []))

    for p in panels(dash["panels"]):
        titles.add(p.get("title", ""))
        for t in p.get("targets", []):
            # Grafana's variables, as Grafana substitutes them before querying.
            e = t["expr"].replace("$__rate_interval", "5m").replace('=~"$job"', '=~".+"')
            exprs.append((f"panel {p['title']!r}", e))
    for v in dash.get("templating", {}).get("list", []):
        query = v.get("query")
        query = query.get("query") if isinstance(query, dict) else query
        m = re.fullmatch(r"label_values\((\w+),\s*\w+\)", query or "")
        if v.get("type") == "query":
            if not m:
                raise ValueError(f"variable {v['name']}: unsupported query {query!r}")
            exprs.append((f"variable {v['name']!r}", m.group(1)))
    return exprs, titles


def rule_exprs(template: Path, values: Path) -> tuple[list[tuple[str, str]], set[str]]:
    """The rules of the chart's template, its Helm actions replaced the way the chart's default
    values render them (the chart tests render it for real; this needs only the expressions)."""
    r = yaml.safe_load(values.read_text())["metrics"]["prometheusRule"]
    text = template.read_text()
    text = text.replace("{{- $sel -}}", 'job="emr-on-eks-operator"')
    text = text.replace("{{ $active }}", "PENDING|SUBMITTED|RUNNING|CANCEL_PENDING")
    text = re.sub(r"\{\{ \$r\.(\w+) \}\}", lambda m: str(r[m.group(1)]), text)
    kept = []
    for line in text.splitlines():
        stripped = line.strip()
        if stripped.startswith("{{") and stripped.endswith("}}"):
            continue  # control actions and included blocks
        kept.append(re.sub(r"\{\{.*\}\}", "x", line))  # annotation texts
    doc = yaml.safe_load("\n".join(kept))
    exprs, alerts = [], set()
    for group in doc["spec"]["groups"]:
        for rule in group["rules"]:
            alerts.add(rule["alert"])
            exprs.append((f"alert {rule['alert']}", rule["expr"]))
    return exprs, alerts


def main() -> int:
    ap = argparse.ArgumentParser()
    ap.add_argument("scrape")
    ap.add_argument("--dashboard", default=REPO / "deploy/grafana/emr-on-eks-operator.json", type=Path)
    ap.add_argument("--rules", default=CHART / "templates/prometheusrule.yaml", type=Path)
    ap.add_argument("--values", default=CHART / "values.yaml", type=Path)
    args = ap.parse_args()

    have = exported(Path(args.scrape).read_text())
    panel_exprs, titles = dashboard_exprs(args.dashboard)
    alert_exprs, alerts = rule_exprs(args.rules, args.values)
    failures = []
    for what, missing in (("panels", REQUIRED_PANELS - titles), ("alerts", REQUIRED_ALERTS - alerts)):
        if missing:
            failures.append(f"missing {what}: {sorted(missing)}")
    used: set[str] = set()
    for where, expr in panel_exprs + alert_exprs:
        try:
            names = selected(expr)
        except (ValueError, Exception) as err:  # noqa: BLE001 - the parser raises its own types
            failures.append(f"{where}: cannot parse {expr!r}: {err}")
            continue
        used |= names
        for name in sorted(names - have):
            failures.append(f"{where}: {name} is not exported by the operator")
    for f in failures:
        print(f"check-metrics: {f}", file=sys.stderr)
    print(f"check-metrics: {len(panel_exprs)} dashboard and {len(alert_exprs)} rule expressions use "
          f"{len(used)} metrics: {', '.join(sorted(used))}")
    return 1 if failures else 0


if __name__ == "__main__":
    sys.exit(main())
