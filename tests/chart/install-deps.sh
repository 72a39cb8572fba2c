#!/usr/bin/env bash
# Installs what the chart and Argo CD health tests need, from Debian's archive (idempotent):
# Go and the Go libraries Helm renders with (for tests/chart/helmrender), Lua 5.1 (Argo CD runs
# health checks with gopher-lua, a Lua 5.1), python3 with PyYAML, jq.
set -euo pipefail
packages=(golang-go golang-github-masterminds-sprig-dev golang-k8s-sigs-yaml-dev lua5.1 python3 python3-yaml jq)
missing=()
for p in "${packages[@]}"; do
  dpkg-query -W -f='${Status}' "$p" 2>/dev/null | grep -q "install ok installed" || missing+=("$p")
done
((${#missing[@]} == 0)) && exit 0
SUDO=""
[[ $(id -u) -eq 0 ]] || SUDO=sudo
echo "install-deps: installing ${missing[*]}" >&2
$SUDO apt-get update -qq
DEBIAN_FRONTEND=noninteractive $SUDO apt-get install -y -qq --no-install-recommends "${missing[@]}" >/dev/null
