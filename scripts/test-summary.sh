#!/usr/bin/env bash
# Sums the runners' own summary lines in the test log (cargo test, pytest, the Lua health tests,
# the chart checks) into one closing line, so CI and people see one total.
set -euo pipefail
log=${1:?usage: test-summary.sh LOG}
awk '
  /^test result: / {
    for (i = 1; i <= NF; i++) {
      if ($(i+1) ~ /^passed/) p += $i
      if ($(i+1) ~ /^failed/) f += $i
      if ($(i+1) ~ /^ignored/) s += $i
    }
  }
  # pytest: "29 passed in 14.2s", "1 failed, 28 passed in ..."
  /^[0-9]+ (passed|failed)/ || /^=+ .*(passed|failed).* =+$/ {
    for (i = 1; i <= NF; i++) {
      w = $(i+1); gsub(/[,=]/, "", w)
      if (w == "passed") p += $i
      if (w == "failed") f += $i
      if (w == "skipped") s += $i
    }
  }
  # Lua health tests, chart checks and the image test print "<name>: N passed, N failed"
  /^(lua health|chart|image): [0-9]+ passed, [0-9]+ failed/ {
    p += $(NF-3); f += $(NF-1)
  }
  # The conformance run of the examples against the strict emulator (make conformance)
  /^conformance: / { conformance = $0 }
  END {
    if (conformance != "") print conformance
    printf "total: %d passed, %d failed, %d skipped\n", p, f, s
  }
' "$log"
