#!/usr/bin/env bash
# make bench: scale and fault benchmarks of the operator (a benchmark, not a test).
#
# Builds the release operator and the bench driver (tests/examples/bench), then runs every
# scenario (and every size of the scale scenario) on a FRESH bed of its own in
# target/bench-bed (never the shared .testbed: the scenarios restart kube-apiserver and inject
# emulator faults), prints the results and writes them to
#   bench/results/<timestamp>-<scenario>[-<size>].json   one file per run
#   bench/results/latest.md                              the human summary of this invocation
#
# Quick subset:  make bench BENCH_SIZES=100 BENCH_SCENARIOS=scale
# Knobs (environment; see bench/README.md): BENCH_SIZES, BENCH_SCENARIOS, BENCH_TIMEOUT_SECONDS,
# BENCH_RUN_SECONDS, BENCH_FAULT_SIZE, BENCH_KILL_SIZE, BENCH_KILLS, BENCH_HOSTILE,
# BENCH_HOSTILE_VALID, BENCH_KEEP_SECONDS, BENCH_LAST_APPLIED, BENCH_VCS, BENCH_SEED, BENCH_OPERATOR_ARGS, BENCH_NOTE,
# BENCH_FAIRNESS_SIZES, BENCH_FAIRNESS_TENANTS, BENCH_FAIRNESS_INTERVAL_SECONDS,
# BENCH_FAIRNESS_SECONDS, BENCH_SCHEDULE_SIZES (500), BENCH_SCHEDULE_EVERY (10 s),
# BENCH_SCHEDULE_SECONDS (180), BENCH_SHARDS_SIZES (5000), BENCH_SHARDS_WRITE_LOG (1: each operator
# replica's apiserver writes are logged by a proxy; 0: no proxy, no writes per shard),
# BENCH_OPERATOR_BINARY (measure another operator build, e.g. to compare two versions
# back-to-back; the release build is then skipped).
set -euo pipefail

ROOT="$(cd "$(dirname "${BASH_SOURCE[0]}")/.." && pwd)"
cd "$ROOT"
CARGO="${CARGO:-cargo}"
TARGET="${CARGO_TARGET_DIR:-$ROOT/target}"
SIZES="${BENCH_SIZES:-100,1000,5000}"
FAIRNESS_SIZES="${BENCH_FAIRNESS_SIZES:-1000,4000}"
SCENARIOS="${BENCH_SCENARIOS:-scale,kill,throttle,latency,down,apiserver-restart,watch-drop,hostile,fairness,schedules,shards}"
SCHEDULE_SIZES="${BENCH_SCHEDULE_SIZES:-500}"
SHARDS_SIZES="${BENCH_SHARDS_SIZES:-5000}"
TIMEOUT="${BENCH_TIMEOUT_SECONDS:-900}"
RESULTS="bench/results" # relative to the repository root (this script cds there)
# The bench bed: its own etcd, kube-apiserver, controller manager and emulator.
export TESTBED_DIR="${BENCH_TESTBED_DIR:-$TARGET/bench-bed}"

log() { echo "bench: $*" >&2; }

machine() {
  echo "machine: $(nproc) x $(grep -m1 'model name' /proc/cpuinfo | cut -d: -f2- | sed 's/^ *//')," \
    "$(awk '/MemTotal/ {printf "%.1f GiB", $2/1048576}' /proc/meminfo) RAM, Linux $(uname -r)"
  echo "load average: $(cut -d' ' -f1-3 /proc/loadavg) (anything well above 0 means the machine is shared)"
}

machine
if [[ -n "${BENCH_OPERATOR_BINARY:-}" ]]; then
  if [[ ! -x "$BENCH_OPERATOR_BINARY" ]]; then
    log "BENCH_OPERATOR_BINARY=$BENCH_OPERATOR_BINARY is not an executable file"
    exit 1
  fi
  EMR_OPERATOR_BINARY="$(realpath "$BENCH_OPERATOR_BINARY")"
  export EMR_OPERATOR_BINARY
  log "measuring the operator binary $EMR_OPERATOR_BINARY; building the bench driver"
else
  log "building the release operator and the bench driver"
  "$CARGO" build --release -p emr-on-eks-operator
  export EMR_OPERATOR_BINARY="$TARGET/release/emr-on-eks-operator"
fi
"$CARGO" build --release -p emr-operator-tests --example bench
DRIVER="$TARGET/release/examples/bench"

stamp="$(date -u +%Y%m%dT%H%M%SZ)"
mkdir -p "$RESULTS"
written=()
failed=()

# What the strict emulator (on by default; EMULATOR_STRICT=0 turns it off) refused during a run:
# requests AWS would refuse too (botocore's models, the quotas in emr_emulator/quotas.py).
strict_report() {
  local url
  # No port file (the bed did not start): the curls below then report "unknown", as before.
  url="http://127.0.0.1:$(cat "$TESTBED_DIR/emulator.port" 2>/dev/null || true)"
  log "$1: strict AWS emulator $(curl -sf "$url/_emulator/strict" | jq -r '.enabled // "unknown"' || echo unknown)," \
    "$(curl -sf "$url/_emulator/violations" | jq '.violations | length' || echo unknown) violations"
}

# A fresh bed for each run, so one scenario's leftovers never weigh on the next.
fresh_bed() {
  tests/bed/down.sh >/dev/null 2>&1 || true
  tests/bed/up.sh >/dev/null
}

for scenario in ${SCENARIOS//,/ }; do
  sizes=("")
  if [[ "$scenario" == scale ]]; then
    IFS=',' read -r -a sizes <<<"$SIZES"
  elif [[ "$scenario" == fairness ]]; then
    IFS=',' read -r -a sizes <<<"$FAIRNESS_SIZES"
  elif [[ "$scenario" == schedules ]]; then
    IFS=',' read -r -a sizes <<<"$SCHEDULE_SIZES"
  elif [[ "$scenario" == shards ]]; then
    IFS=',' read -r -a sizes <<<"$SHARDS_SIZES"
  fi
  for size in "${sizes[@]}"; do
    name="$scenario${size:+-$size}"
    out="$RESULTS/$stamp-$name.json"
    log "=== $name: starting a fresh bed in $TESTBED_DIR"
    if ! fresh_bed; then
      log "$name could not be measured: the bed did not start"
      failed+=("$name")
      continue
    fi
    args=(run --scenario "$scenario" --out "$out")
    [[ -n "$size" ]] && args+=(--size "$size")
    # Bounded: the driver gives up on a burst after BENCH_TIMEOUT_SECONDS; this is the backstop.
    if timeout --kill-after=30 "$((TIMEOUT * 2 + 600))" "$DRIVER" "${args[@]}"; then
      written+=("$out")
      strict_report "$name"
    else
      log "$name could not be measured (exit $?); see the output above"
      failed+=("$name")
    fi
  done
done
tests/bed/down.sh >/dev/null 2>&1 || true

if ((${#written[@]} > 0)); then
  "$DRIVER" summarize --out "$RESULTS/latest.md" "${written[@]}" >/dev/null
  log "summary: $RESULTS/latest.md"
  cat "$RESULTS/latest.md"
fi
if ((${#failed[@]} > 0)); then
  log "not measured: ${failed[*]}"
  exit 1
fi
