#!/usr/bin/env python3
"""Writes copies of the demo's VirtualCluster and pi.py SparkJobRun (examples/demo/) under other
names and one label, for tests that run an operator of their own with `--selector LABEL=VALUE`
next to whatever else the bed holds.

    demo-copy.py VIRTUAL_CLUSTER NAMESPACE LABEL VALUE OUT_DIR   -> OUT_DIR/vc.yaml, OUT_DIR/pi.yaml
"""
import sys
from pathlib import Path

import yaml

vc, ns, label, value, out = sys.argv[1:]
demo = Path(__file__).resolve().parent.parent / "examples" / "demo"
v = yaml.safe_load((demo / "virtualcluster.yaml").read_text())
v["metadata"]["name"] = vc
v["metadata"]["labels"] = {label: value}
v["spec"]["namespace"]["name"] = ns
p = yaml.safe_load((demo / "pi.yaml").read_text())
p["metadata"].update(namespace=ns, labels={label: value})
p["spec"]["virtualCluster"]["name"] = vc
Path(out, "vc.yaml").write_text(yaml.safe_dump(v))
Path(out, "pi.yaml").write_text(yaml.safe_dump(p))
