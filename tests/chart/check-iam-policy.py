#!/usr/bin/env python3
"""Checks deploy/iam/operator-policy.json against the AWS calls the operator makes.

The calls are the `Operation` enum of crates/emr-aws/src/operation.rs: its `ALL` list, `as_str`
(API name) and `service` (IAM prefix), read from the source. The policy must grant every
operation's IAM action and nothing else, except:
  - sts:GetCallerIdentity needs no permission (IAM cannot deny it), so it is left out;
  - actions AWS authorizes as part of another call ("dependent actions"), listed below with
    the call that needs them; they are required exactly when that call is.
Also: every statement has a Sid, deploy/README.md explains each Sid, and the JSON is valid.
Prints nothing on success; one line per problem and exit 1 otherwise.
"""
import json
import os
import re
import sys

repo = os.path.join(os.path.dirname(os.path.abspath(__file__)), "..", "..")
NO_PERMISSION = {"sts:GetCallerIdentity"}
DEPENDENT = {
    # CreateVirtualCluster and StartJobRun send tags (the operator always tags what it starts);
    # AWS authorizes tags given on create as emr-containers:TagResource.
    "emr-containers:TagResource": {
        "emr-containers:CreateVirtualCluster",
        "emr-containers:StartJobRun",
        "emr-containers:CreateJobTemplate",
        "emr-containers:CreateSecurityConfiguration",
    },
    # The first CreateVirtualCluster in an account creates EMR's service-linked role.
    "iam:CreateServiceLinkedRole": {"emr-containers:CreateVirtualCluster"},
    # CreateFargateProfile passes the pod execution role to EKS.
    "iam:PassRole": {"eks:CreateFargateProfile"},
    # PutObject with SSE-KMS (podTemplateStore.sse: aws:kms) has S3 ask KMS for a data key.
    "kms:GenerateDataKey": {"s3:PutObject"},
    # HeadObject with the checksum mode on (the stored SHA-256 of a pod template) needs
    # kms:Decrypt for an SSE-KMS object (HeadObject is authorized as s3:GetObject).
    "kms:Decrypt": {"s3:GetObject"},
}
# Calls S3 authorizes under another action's name (Service Authorization Reference: HeadObject
# needs s3:GetObject); operation.rs's `iam_action` says the same.
AUTHORIZED_AS = {"s3:HeadObject": "s3:GetObject"}


def function_body(src, name):
    m = re.search(r"pub (?:const )?fn " + name + r"\b.*?\{(.*?)\n    \}", src, re.S)
    if not m:
        raise SystemExit(f"check-iam-policy: cannot find fn {name} in operation.rs")
    return m.group(1)


def operations(src):
    all_block = re.search(r"pub const ALL: \[Operation; \d+\] = \[(.*?)\];", src, re.S)
    if not all_block:
        raise SystemExit("check-iam-policy: cannot find Operation::ALL in operation.rs")
    variants = re.findall(r"Operation::(\w+)", all_block.group(1))
    names = dict(re.findall(r'Operation::(\w+)\s*=>\s*"([^"]+)"', function_body(src, "as_str")))
    services = {}
    pending = []
    for token in re.finditer(r'Operation::(\w+)|=>\s*"([^"]+)"', function_body(src, "service")):
        if token.group(1):
            pending.append(token.group(1))
        else:
            for v in pending:
                services[v] = token.group(2)
            pending = []
    problems = [f"operation.rs: {v} has no as_str/service mapping" for v in variants if v not in names or v not in services]
    called = {f"{services[v]}:{names[v]}" for v in variants if v in names and v in services}
    return {AUTHORIZED_AS.get(a, a) for a in called}, problems


def main():
    src = open(os.path.join(repo, "crates/emr-aws/src/operation.rs")).read()
    called, problems = operations(src)
    if not called:
        problems.append("operation.rs: no operations found")
    try:
        policy = json.load(open(os.path.join(repo, "deploy/iam/operator-policy.json")))
    except ValueError as e:
        print(f"iam: operator-policy.json is not JSON: {e}")
        return 1
    readme = open(os.path.join(repo, "deploy/README.md")).read()
    granted = set()
    for st in policy["Statement"]:
        actions = st["Action"] if isinstance(st["Action"], list) else [st["Action"]]
        granted.update(actions)
        if st.get("Effect") != "Allow":
            problems.append(f"statement {st.get('Sid')}: Effect is not Allow")
        if not st.get("Sid"):
            problems.append(f"statement granting {actions}: no Sid")
        elif f"`{st['Sid']}`" not in readme:
            problems.append(f"statement {st['Sid']}: not explained in deploy/README.md")
        for a in actions:
            if "*" in a:
                problems.append(f"statement {st.get('Sid')}: wildcard action {a}")
    wanted = called - NO_PERMISSION
    for action, needed_by in DEPENDENT.items():
        if needed_by & called:
            wanted.add(action)
    for a in sorted(wanted - granted):
        problems.append(f"policy lacks {a}, which the operator needs")
    for a in sorted(granted - wanted):
        problems.append(f"policy grants {a}, which the operator never needs (operation.rs)")
    for p in problems:
        print(f"iam: {p}")
    return 1 if problems else 0


if __name__ == "__main__":
    sys.exit(main())
