# Shared by the test bed's scripts (sourced, not run). Paths and small helpers only.
# shellcheck shell=bash disable=SC2034  # variables here are used by the scripts that source it

BED_DIR="$(cd "$(dirname "${BASH_SOURCE[0]}")" && pwd)"
REPO_ROOT="$(cd "$BED_DIR/../.." && pwd)"
# Runtime state of the bed; removed by down.sh. Overridable for a second, parallel bed.
TESTBED_DIR="${TESTBED_DIR:-$REPO_ROOT/.testbed}"
CACHE_ROOT="${EMR_OPERATOR_CACHE:-${XDG_CACHE_HOME:-$HOME/.cache}/emr-on-eks-operator}"
KUBE_BIN_DIR="$CACHE_ROOT/kubernetes-1.20.2/bin"
VENV_DIR="$BED_DIR/.venv"

# Every component the bed can run, in start order (down.sh stops them in reverse).
COMPONENTS=(etcd kube-apiserver kube-controller-manager emulator)

log() { echo "testbed: $*" >&2; }
die() { echo "testbed: error: $*" >&2; exit 1; }

pid_file() { echo "$TESTBED_DIR/pids/$1.pid"; }
log_file() { echo "$TESTBED_DIR/logs/$1.log"; }

# The pid of a component if its pid file names a live process that is still the one we
# started (its command line mentions this bed's directory), so a recycled pid is never
# mistaken for ours and never signalled.
component_pid() {
  local file pid
  file="$(pid_file "$1")"
  [[ -f "$file" ]] || return 1
  pid="$(<"$file")"
  [[ "$pid" =~ ^[0-9]+$ ]] || return 1
  kill -0 "$pid" 2>/dev/null || return 1
  # A process in the middle of execve (setsid -> nohup -> env -> python are four of them)
  # briefly shows an empty command line, as does an exited child not yet reaped. Only the
  # zombie means "gone"; an exec in progress is waited out instead of read as an exit.
  local attempt cmdline state
  for ((attempt = 0; attempt < 40; attempt++)); do
    cmdline="$(tr '\0' ' ' <"/proc/$pid/cmdline" 2>/dev/null)" || return 1
    if [[ -n "$cmdline" ]]; then
      [[ "$cmdline" == *"$TESTBED_DIR"* ]] || return 1
      echo "$pid"
      return 0
    fi
    state="$(sed 's/.*) //' "/proc/$pid/stat" 2>/dev/null | cut -d' ' -f1)" || return 1
    [[ -n "$state" && "$state" != Z && "$state" != X ]] || return 1
    sleep 0.05
  done
  return 1
}

# Prints the last lines of a component's log, for error messages.
show_log_tail() {
  local file
  file="$(log_file "$1")"
  if [[ -s "$file" ]]; then
    echo "---- last 40 lines of $file ----" >&2
    tail -n 40 "$file" >&2
    echo "----" >&2
  else
    echo "(no log at $file)" >&2
  fi
}

# Stops every component whose pid file names a live process of this bed: SIGTERM, up to
# 15 s grace, then SIGKILL. Only pids from our own pid files are ever signalled.
stop_components() {
  local i name pid pids=()
  for ((i = ${#COMPONENTS[@]} - 1; i >= 0; i--)); do
    name="${COMPONENTS[$i]}"
    if pid="$(component_pid "$name")"; then
      log "stopping $name (pid $pid)"
      kill -TERM "$pid" 2>/dev/null || true
      pids+=("$pid")
    fi
    rm -f "$(pid_file "$name")"
  done
  local deadline=$((SECONDS + 15))
  for pid in "${pids[@]}"; do
    while kill -0 "$pid" 2>/dev/null && ((SECONDS < deadline)); do sleep 0.1; done
    if kill -0 "$pid" 2>/dev/null; then
      log "pid $pid did not stop within 15 s; sending SIGKILL"
      kill -KILL "$pid" 2>/dev/null || true
    fi
  done
}

# Removes the runtime state, keeping the lock file (held by whoever called us).
remove_state() {
  [[ -d "$TESTBED_DIR" ]] || return 0
  find "$TESTBED_DIR" -mindepth 1 -maxdepth 1 ! -name .lock -exec rm -rf {} +
}

# Serializes up.sh and down.sh runs against the same bed (parallel `make` targets).
take_lock() {
  mkdir -p "$TESTBED_DIR"
  exec 9>"$TESTBED_DIR/.lock"
  flock -w 300 9 || die "another up.sh/down.sh has held $TESTBED_DIR/.lock for 5 minutes"
}
