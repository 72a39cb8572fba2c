#!/usr/bin/env bash
# Packs kubectl-emr for krew: target/krew/kubectl-emr_<version>_linux_amd64.tar.gz and
# target/krew/emr.yaml, deploy/krew/emr.yaml with the archive's file:// URI and sha256 filled in.
#   scripts/krew-package.sh [BINARY]   (default: target/release/kubectl-emr, built if missing)
#   kubectl krew install --manifest=target/krew/emr.yaml --archive=target/krew/kubectl-emr_*.tar.gz
set -euo pipefail
repo="$(cd "$(dirname "${BASH_SOURCE[0]}")/.." && pwd)"
bin="${1:-$repo/target/release/kubectl-emr}"
if [[ ! -x "$bin" ]]; then
  [[ $# -eq 0 ]] || { echo "krew-package: $bin is not an executable" >&2; exit 1; }
  cargo build --release -p kubectl-emr --manifest-path "$repo/Cargo.toml"
fi
version="v$(sed -n 's/^version = "\(.*\)"/\1/p' "$repo/Cargo.toml" | head -1)"
out="$repo/target/krew"
stage="$(mktemp -d)"
trap 'rm -rf "$stage"' EXIT
mkdir -p "$out"
install -m 0755 "$bin" "$stage/kubectl-emr"
archive="$out/kubectl-emr_${version}_linux_amd64.tar.gz"
# Fixed owner, order and times: the same binary always gives the same archive (and sha256).
tar --sort=name --owner=0 --group=0 --numeric-owner --mtime=@0 -C "$stage" -cf - kubectl-emr | gzip -n >"$archive"
sha="$(sha256sum "$archive" | cut -d' ' -f1)"
sed -e "s|{{ .TagName }}|$version|g" \
    -e "s|{{ addURIAndSha \"[^\"]*\" \\.TagName }}|uri: file://$archive\n      sha256: $sha|" \
    -e '/^#/d' \
    "$repo/deploy/krew/emr.yaml" >"$out/emr.yaml"
if grep -q '{{' "$out/emr.yaml"; then
  echo "krew-package: unfilled template left in $out/emr.yaml" >&2
  exit 1
fi
echo "$out/emr.yaml"
echo "$archive"
