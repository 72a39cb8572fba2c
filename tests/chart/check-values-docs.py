#!/usr/bin/env python3
"""Every value in the chart's values.yaml is documented. A key counts as documented when the
line above it is a comment; a key inside a documented block (e.g. `resources:` or
`podSecurityContext:`, whose whole body is one value) is covered by that block's comment; a key
that only groups other keys needs no comment of its own. Prints one line per undocumented key;
exit 1 if any."""
import re
import sys

lines = open(sys.argv[1]).read().split("\n")
stack = []  # (indent, documented) of the enclosing keys
problems = []
for i, line in enumerate(lines):
    m = re.match(r"^(\s*)([A-Za-z][A-Za-z0-9]*):(.*)$", line)
    if not m:
        continue
    indent = len(m.group(1))
    while stack and stack[-1][0] >= indent:
        stack.pop()
    documented = i > 0 and lines[i - 1].strip().startswith("#")
    covered = documented or any(doc for _, doc in stack)
    value = m.group(3).split(" #")[0].strip()
    following = next((l for l in lines[i + 1:] if l.strip() and not l.strip().startswith("#")), "")
    groups_keys = value == "" and len(following) - len(following.lstrip()) > indent
    if not covered and not groups_keys:
        problems.append(f"values.yaml:{i + 1}: {m.group(2)} has no comment")
    stack.append((indent, documented))
for p in problems:
    print(p)
sys.exit(1 if problems else 0)
