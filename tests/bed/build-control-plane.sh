#!/usr/bin/env bash
# Builds kube-apiserver and kube-controller-manager v1.20.2 from Debian's `kubernetes` source
# package (the only Kubernetes server source reachable from this workplace) and caches the binaries.
# Idempotent: a second run with the binaries cached returns in milliseconds.
# Called by tests/bed/install-deps.sh; tests/bed/up.sh runs the binaries from the same cache
# (EMR_OPERATOR_CACHE overrides its location).
set -euo pipefail

CACHE_ROOT="${EMR_OPERATOR_CACHE:-${XDG_CACHE_HOME:-$HOME/.cache}/emr-on-eks-operator}"
BIN_DIR="$CACHE_ROOT/kubernetes-1.20.2/bin"
SRC_DIR="$CACHE_ROOT/kubernetes-src"

if [[ -x "$BIN_DIR/kube-apiserver" && -x "$BIN_DIR/kube-controller-manager" ]]; then
  echo "control plane: cached in $BIN_DIR"
  exit 0
fi

log() { echo "control plane: $*" >&2; }
SUDO=""
[[ $(id -u) -ne 0 ]] && SUDO="sudo"

# deb-src for bookworm, in the deb822 format the base image uses.
if ! grep -rqs '^Types:.*deb-src' /etc/apt/sources.list.d/ && ! grep -qs '^deb-src' /etc/apt/sources.list; then
  log "adding a deb-src entry for bookworm"
  $SUDO tee /etc/apt/sources.list.d/emr-operator-src.sources >/dev/null <<'SRC'
Types: deb-src
URIs: http://deb.debian.org/debian
Suites: bookworm
Components: main
Signed-By: /usr/share/keyrings/debian-archive-keyring.gpg
SRC
fi

log "installing build dependencies"
$SUDO apt-get update -qq
DEBIAN_FRONTEND=noninteractive $SUDO apt-get install -y -qq --no-install-recommends \
  dpkg-dev golang-go jq rsync etcd-server golang-github-modern-go-reflect2-dev >/dev/null

mkdir -p "$SRC_DIR" "$BIN_DIR"
cd "$SRC_DIR"
TREE=$(find . -maxdepth 1 -type d -name 'kubernetes-*' | head -n1)
if [[ -z "$TREE" ]]; then
  log "fetching Debian's kubernetes source package"
  apt-get source -qq kubernetes >/dev/null
  TREE=$(find . -maxdepth 1 -type d -name 'kubernetes-*' | head -n1)
fi
TREE="$SRC_DIR/${TREE#./}"

# Go 1.19 + the vendored reflect2 1.0.1 yields an apiserver that segfaults on the first
# custom-resource write; Debian's reflect2 1.0.2 sources fix it.
R2_SRC=/usr/share/gocode/src/github.com/modern-go/reflect2
R2_DST="$TREE/vendor/github.com/modern-go/reflect2"
log "replacing vendored reflect2 with Debian's 1.0.2"
rm -f "$R2_DST"/*.go "$R2_DST"/*.s
cp "$R2_SRC"/*.go "$R2_DST"/
cp "$R2_SRC"/*.s "$R2_DST"/ 2>/dev/null || true
rm -f "$R2_DST"/*_test.go

# Debian's rules build inside a GOPATH with k8s.io/kubernetes linked to the tree.
GOPATH_DIR="$SRC_DIR/gopath"
mkdir -p "$GOPATH_DIR/src/k8s.io"
ln -sfn "$TREE" "$GOPATH_DIR/src/k8s.io/kubernetes"
cd "$GOPATH_DIR/src/k8s.io/kubernetes"
export GOPATH="$GOPATH_DIR" GO111MODULE=off GOFLAGS=-mod=vendor CGO_ENABLED=0 GOCACHE="$CACHE_ROOT/go-build-cache"
export KUBE_GIT_VERSION=v1.20.2 KUBE_GIT_TREE_STATE=clean
for what in kube-apiserver kube-controller-manager; do
  log "building $what (first time only; several minutes on 2 cores)"
  make WHAT="cmd/$what" KUBE_VERBOSE=0 >"$CACHE_ROOT/build-$what.log" 2>&1 || {
    tail -n 40 "$CACHE_ROOT/build-$what.log" >&2; exit 1; }
  built=$(find _output -type f -name "$what" -perm -u+x | head -n1)
  install -m 0755 "$built" "$BIN_DIR/$what"
done
log "built into $BIN_DIR"
