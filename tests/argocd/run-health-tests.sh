#!/usr/bin/env bash
# Runs the Argo CD health checks in deploy/argocd/ on their test cases (health_test.yaml) with a
# real Lua 5.1 interpreter (Argo CD runs them with gopher-lua, a Lua 5.1), in a sandbox holding
# only what Argo CD's health VM offers. The YAML inputs are turned into JSON by python3+PyYAML
# and decoded in Lua by tests/argocd/json.lua.
#
# It also checks that argocd-cm-snippet.yaml embeds exactly these scripts, and that every reason the scripts treat as "needs a fix" is a reason the operator's
# Rust sources define (so a renamed reason cannot silently turn Degraded into Progressing).
#
# Output: one line per failure, then "lua health: N passed, M failed". Exit 1 on any failure.
set -euo pipefail
here="$(cd "$(dirname "${BASH_SOURCE[0]}")" && pwd)"
repo="$(cd "$here/../.." && pwd)"
argocd="$repo/deploy/argocd"

lua="$(command -v lua5.1 || true)"
[[ -n $lua ]] || { echo "run-health-tests: lua5.1 not found (apt-get install lua5.1, or tests/chart/install-deps.sh)" >&2; exit 2; }
python="$(command -v python3)"
"$python" -c 'import yaml' 2>/dev/null || python=/usr/bin/python3

cases="$(mktemp)"
trap 'rm -f "$cases"' EXIT
"$python" - "$argocd" "$repo" >"$cases" <<'PY'
import json, os, re, sys, glob
import yaml

argocd, repo = sys.argv[1], sys.argv[2]
spec = yaml.safe_load(open(os.path.join(argocd, "health_test.yaml")))
cases = []
for t in spec["tests"]:
    with open(os.path.join(argocd, t["inputPath"])) as f:
        obj = yaml.safe_load(f)
    cases.append({
        "name": f"{t['script']} {t['inputPath']}",
        "script": os.path.join(argocd, t["script"]),
        "obj": obj,
        "status": t["healthStatus"]["status"],
        "message": t["healthStatus"].get("message"),
    })

# Reason spelling: every reason in the scripts' NEEDS_A_FIX tables must appear as a string
# literal in the operator's Rust sources (reasons are constants or literals there).
literals = set()
for path in glob.glob(os.path.join(repo, "crates", "*", "src", "**", "*.rs"), recursive=True):
    literals.update(re.findall(r'"([A-Z][A-Za-z]+)"', open(path).read()))
for script in ("health-sparkjobrun.lua", "health-virtualcluster.lua", "health-scheduledsparkjobrun.lua"):
    text = open(os.path.join(argocd, script)).read()
    table = re.search(r"local NEEDS_A_FIX = \{(.*?)\n\}", text, re.S).group(1)
    for reason in re.findall(r"^\s*([A-Za-z]+) = true", table, re.M):
        cases.append({"name": f"{script} reason {reason} appears in crates/", "spelling": reason in literals})
# The argocd-cm snippet must carry exactly the scripts tested here.
snippet = yaml.safe_load(open(os.path.join(argocd, "argocd-cm-snippet.yaml")))["data"]
for kind, script in (("SparkJobRun", "health-sparkjobrun.lua"), ("VirtualCluster", "health-virtualcluster.lua"),
                     ("ScheduledSparkJobRun", "health-scheduledsparkjobrun.lua")):
    same = snippet.get(f"resource.customizations.health.emr-on-eks.dev_{kind}") == open(os.path.join(argocd, script)).read()
    cases.append({"name": f"argocd-cm-snippet.yaml carries {script} (regenerate: tests/argocd/cm-snippet.py)", "spelling": same})
json.dump(cases, sys.stdout)
PY
"$lua" "$here/json_test.lua" || { echo "FAIL tests/argocd/json.lua self-test"; echo "lua health: 0 passed, 1 failed"; exit 1; }
exec "$lua" "$here/harness.lua" "$cases"
