#!/usr/bin/env bash
# Runs the AWS emulator's own tests (pytest + boto3 against a real emulator process on a
# free loopback port). Needs tests/bed/install-deps.sh to have created the venv.
# Extra arguments go to pytest, e.g. tests/bed/test-emulator.sh -k throttl
set -euo pipefail

BED_DIR="$(cd "$(dirname "${BASH_SOURCE[0]}")" && pwd)"
PYTEST="$BED_DIR/.venv/bin/pytest"
if [[ ! -x "$PYTEST" ]]; then
  echo "test-emulator: $PYTEST not found; run tests/bed/install-deps.sh first" >&2
  exit 1
fi
cd "$BED_DIR/emulator"
exec env PYTHONPATH="$BED_DIR/emulator" PYTHONDONTWRITEBYTECODE=1 \
  "$PYTEST" -q -p no:cacheprovider tests "$@"
