#!/usr/bin/env bash
# Builds tests/chart/helmrender (a `helm template` work-alike) from Debian's packaged Go
# libraries, offline, and prints the binary's path. Rebuilds only when the source changed.
# Needs the Debian packages golang-go, golang-github-masterminds-sprig-dev and
# golang-k8s-sigs-yaml-dev: when they are missing it runs tests/chart/install-deps.sh first.
set -euo pipefail

here="$(cd "$(dirname "${BASH_SOURCE[0]}")" && pwd)"
repo="$(cd "$here/../.." && pwd)"
out="${HELMRENDER_DIR:-$repo/target/tests-chart}"
bin="$out/helmrender"
src="$here/helmrender"

need=(/usr/share/gocode/src/github.com/Masterminds/sprig/functions.go
      /usr/share/gocode/src/sigs.k8s.io/yaml/yaml.go)
missing() {
  command -v go >/dev/null || return 0
  local f
  for f in "${need[@]}"; do [[ -f $f ]] || return 0; done
  return 1
}
if missing; then # a fresh machine: install the Debian packages (idempotent, apt only)
  "$here/install-deps.sh" >&2 || { echo "build-renderer: tests/chart/install-deps.sh failed" >&2; exit 2; }
  missing && { echo "build-renderer: Go or its libraries still missing after install-deps.sh" >&2; exit 2; }
fi

stamp="$(cat "$src"/*.go "$src"/go.mod | sha256sum | cut -d' ' -f1) $(go version)"
if [[ -x $bin && -f $bin.stamp && "$(<"$bin.stamp")" == "$stamp" ]]; then
  echo "$bin"
  exit 0
fi

mkdir -p "$out/gopath/src"
# GOPATH mode over Debian's /usr/share/gocode. The program sits in a GOPATH of its own (a
# symlink) with a go.mod, so Go's "minimal module compatibility" resolves the /v3 import paths
# of sprig and semver to Debian's unversioned directories. Nothing is downloaded.
ln -sfn "$src" "$out/gopath/src/helmrender"
(
  cd "$out/gopath/src/helmrender"
  GO111MODULE=off GOPATH="$out/gopath:/usr/share/gocode" GOFLAGS='' GOPROXY=off \
    GOCACHE="$out/gocache" CGO_ENABLED=0 go build -o "$bin" helmrender
)
echo "$stamp" >"$bin.stamp"
echo "$bin"
