#!/usr/bin/env bash
# The image test: builds the image with scripts/build-image.sh and runs it against the bed.
#
#   tests/image/test-image.sh [BINARY]     (default $CARGO_TARGET_DIR/debug/emr-on-eks-operator)
#
#  1. Builds the image from BINARY twice: the two archives must be identical (reproducible), and
#     smaller than 64 MiB.
#  2. tests/image/check-dockerfile.py: the image is what deploy/Dockerfile describes; and the
#     check refuses a Dockerfile that differs (USER 0), so it can fail.
#  3. Imports the archive into a scratch buildah store and runs `--help` inside the image; its
#     files besides the binary and /etc are exactly the libraries ldd lists for the binary.
#  4. Runs the image's entrypoint with `buildah run --isolation chroot` (no daemon, no runtime) as
#     the image's user, the bed's least-privilege kubeconfig mounted read-only at
#     /var/run/emr-on-eks-operator/kubeconfig and the emulator's endpoint in AWS_ENDPOINT_URL.
#     Checks the process runs as 65532:65532 with the image as its root, then applies copies of
#     the demo's VirtualCluster and pi.py SparkJobRun (own names and label, which only this
#     operator watches) and waits for Ready and COMPLETED; /healthz and /metrics must answer.
# Everything it created is deleted again. Needs root, buildah (tests/bed/install-deps.sh) and a
# running bed (tests/bed/up.sh). Quiet on success: one summary line.
set -euo pipefail
here="$(cd "$(dirname "${BASH_SOURCE[0]}")" && pwd)"
repo="$(cd "$here/../.." && pwd)"
cd "$repo"
die() { echo "image-test: $*" >&2; exit 1; }

binary="${1:-${CARGO_TARGET_DIR:-target}/debug/emr-on-eks-operator}"
[[ -x $binary ]] || die "$binary not found (cargo build -p emr-on-eks-operator)"
command -v buildah >/dev/null || die "buildah not found: run tests/bed/install-deps.sh"
[[ -f .testbed/env ]] || die "no bed: run tests/bed/up.sh"
# shellcheck disable=SC1091
source .testbed/env
PY="$repo/tests/bed/.venv/bin/python"

mkdir -p target/image
work="$(mktemp -d "$repo/target/image/test.XXXXXX")"
id="$$"
label="emr-on-eks.dev/image-test"
vc="image-demo-$id" ns="emr-image-demo-$id"
container="" bh_pid=""
bh() { buildah --root "$work/store/root" --runroot "$work/store/run" --storage-driver vfs "$@"; }
cleanup() {
  set +e
  if [[ -n $bh_pid ]]; then
    kubectl delete sparkjobrun pi -n "$ns" --ignore-not-found --wait=true --timeout=60s >/dev/null 2>&1
    kubectl delete virtualcluster "$vc" --ignore-not-found --wait=true --timeout=60s >/dev/null 2>&1
    stop_operator
  fi
  kubectl delete lease "emr-image-test-$id" -n default --ignore-not-found >/dev/null 2>&1
  [[ -n $container ]] && bh rm "$container" >/dev/null 2>&1
  bh rmi --all >/dev/null 2>&1
  rm -rf "$work"
}
trap cleanup EXIT

# The pids under PID (children first found by /proc's PPid), one per line.
descendants() {
  local pid child
  for pid in "$@"; do
    for child in $(ps -o pid= --ppid "$pid"); do
      echo "$child"
      descendants "$child"
    done
  done
}
operator_pid() {
  local pid
  for pid in $(descendants "$bh_pid"); do
    [[ $(readlink "/proc/$pid/exe" 2>/dev/null) == */usr/local/bin/emr-on-eks-operator ]] && { echo "$pid"; return 0; }
  done
  return 1
}
stop_operator() {
  local pid
  pid="$(operator_pid)" && kill "$pid" 2>/dev/null
  kill "$bh_pid" 2>/dev/null
  wait "$bh_pid" 2>/dev/null
  bh_pid=""
}

# 1. Reproducible and small.
scripts/build-image.sh "$binary" "$work/a.oci.tar" >"$work/build.out" || die "build failed: $(cat "$work/build.out")"
scripts/build-image.sh "$binary" "$work/b.oci.tar" >/dev/null || die "second build failed"
cmp -s "$work/a.oci.tar" "$work/b.oci.tar" || die "two builds from the same binary differ (not reproducible)"
size=$(stat -c %s "$work/a.oci.tar")
((size < 64 * 1024 * 1024)) || die "the archive is $size bytes, more than 64 MiB"

# 2. Equivalent to deploy/Dockerfile, and the comparison can fail.
python3 "$here/check-dockerfile.py" "$work/a.oci.tar" >"$work/check.out" || die "the image differs from deploy/Dockerfile (above)"
sed 's/^USER 65532:65532$/USER 0/' deploy/Dockerfile >"$work/Dockerfile.root"
if python3 "$here/check-dockerfile.py" "$work/a.oci.tar" "$work/Dockerfile.root" >/dev/null 2>&1; then
  die "check-dockerfile.py accepted a Dockerfile with USER 0"
fi

# 3. --help from inside the image.
container="$(bh from --quiet --name "emr-image-test-$id" "oci-archive:$work/a.oci.tar")"
help="$(bh run --isolation chroot "$container" -- /usr/local/bin/emr-on-eks-operator --help 2>&1)" ||
  die "--help inside the image failed: $help"
grep -q '^Usage: emr-on-eks-operator <COMMAND>' <<<"$help" || die "--help inside the image printed: $help"
# Exactly the shared libraries the binary links, nothing more: the image's files outside the
# binary, /etc, /usr/share/doc and /var/lib/dpkg are ldd's list.
mnt="$(bh mount "$container")"
want="$(ldd "$binary" | grep -o '/[^ ]*' | sort -u)"
have="$(cd "$mnt" && find . -type f ! -path ./usr/local/bin/emr-on-eks-operator ! -path './etc/*' \
  ! -path './usr/share/doc/*' ! -path './var/lib/dpkg/*' | sed 's|^\.||' | sort)"
bh umount "$container" >/dev/null
[[ $have == "$want" ]] || die "the image's libraries [$(tr '\n' ' ' <<<"$have")] are not ldd's [$(tr '\n' ' ' <<<"$want")]"

# 4. The operator from the image against the bed.
scripts/demo-setup.sh >/dev/null
mkdir -m 0755 "$work/kube"
install -m 0400 -o 65532 -g 65532 "$TESTBED_OPERATOR_KUBECONFIG" "$work/kube/kubeconfig"
port="$("$PY" -c 'import socket; s = socket.socket(); s.bind(("127.0.0.1", 0)); print(s.getsockname()[1])')"
bh run --isolation chroot \
  -v "$work/kube:/var/run/emr-on-eks-operator:ro" \
  --env KUBECONFIG=/var/run/emr-on-eks-operator/kubeconfig --env POD_NAMESPACE=default \
  --env AWS_ENDPOINT_URL="$AWS_ENDPOINT_URL" --env AWS_REGION="$AWS_REGION" \
  --env AWS_ACCESS_KEY_ID="$AWS_ACCESS_KEY_ID" --env AWS_SECRET_ACCESS_KEY="$AWS_SECRET_ACCESS_KEY" \
  "$container" -- /usr/local/bin/emr-on-eks-operator run \
  --selector "$label=$id" --lease-name "emr-image-test-$id" --metrics-address "127.0.0.1:$port" \
  --young-poll-interval 1s --poll-interval 5s >"$work/operator.log" 2>&1 </dev/null &
bh_pid=$!
fail() { echo "image-test: $*" >&2; tail -20 "$work/operator.log" | sed 's/^/  operator: /' >&2; exit 1; }

for _ in $(seq 100); do curl -sf "http://127.0.0.1:$port/healthz" >/dev/null && break; sleep 0.2; done
curl -sf "http://127.0.0.1:$port/healthz" >/dev/null || fail "/healthz does not answer on 127.0.0.1:$port"
pid="$(operator_pid)" || fail "no operator process under buildah run ($bh_pid)"
read -r uid gid < <(ps -o uid=,gid= -p "$pid")
[[ $uid == 65532 && $gid == 65532 ]] || fail "the operator runs as $uid:$gid, not 65532:65532"
# Its root (seen through /proc, it has its own mount namespace) is the image: the binary, no shell.
root="/proc/$pid/root"
[[ -x $root/usr/local/bin/emr-on-eks-operator && -f $root/etc/passwd && ! -e $root/bin/sh ]] ||
  fail "the operator's root file system is not the image's ($(find "$root/" -mindepth 1 -maxdepth 1 -printf '%f ' 2>&1))"

# The demo's objects under this test's names and label.
"$PY" scripts/demo-copy.py "$vc" "$ns" "$label" "$id" "$work"
kubectl apply --validate=false -f "$work/vc.yaml" >/dev/null
kubectl wait --for=condition=Ready --timeout=90s "virtualcluster/$vc" >/dev/null ||
  fail "VirtualCluster $vc not Ready: $(kubectl get virtualcluster "$vc" -o jsonpath='{.status.conditions}')"
kubectl apply --validate=false -f "$work/pi.yaml" >/dev/null
state=""
for _ in $(seq 120); do
  state="$(kubectl get sparkjobrun pi -n "$ns" -o jsonpath='{.status.state}')"
  [[ $state == COMPLETED || $state == FAILED || $state == CANCELLED ]] && break
  sleep 1
done
[[ $state == COMPLETED ]] || fail "SparkJobRun pi in $ns ended ${state:-without a state}, not COMPLETED"

healthz="$(curl -sf "http://127.0.0.1:$port/healthz")" || fail "/healthz does not answer after the run"
metrics="$(curl -sf "http://127.0.0.1:$port/metrics")" || fail "/metrics does not answer"
grep -qE '^emr_operator_aws_calls_total\{[^}]*operation="StartJobRun"' <<<"$metrics" ||
  fail "/metrics has no StartJobRun call: $(head -5 <<<"$metrics")"

echo "image: reproducible $(awk -v b="$size" 'BEGIN { printf "%.1f", b / 1048576 }') MiB archive from $binary, matches deploy/Dockerfile, exactly the libraries ldd lists; ran as 65532:65532 with buildah (chroot): --help, VirtualCluster Ready, pi COMPLETED, /healthz ${healthz:0:20}, /metrics ok"
echo "image: 11 passed, 0 failed"
