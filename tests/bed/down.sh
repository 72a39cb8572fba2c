#!/usr/bin/env bash
# Stops everything tests/bed/up.sh started (only the processes named in its pid files) and
# removes the bed's runtime state in .testbed/. Keeps tests/bed/.venv and the build cache.
# Safe to run when nothing is up.
set -euo pipefail

# shellcheck source-path=SCRIPTDIR source=lib.sh
source "$(dirname "${BASH_SOURCE[0]}")/lib.sh"

if [[ ! -d "$TESTBED_DIR" ]]; then
  log "nothing to stop ($TESTBED_DIR does not exist)"
  exit 0
fi
take_lock
stop_components
remove_state
log "down; removed the state in $TESTBED_DIR"
