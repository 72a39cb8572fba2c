#!/usr/bin/env bash
# Installs what the chart and Argo CD health tests need (idempotent; a second or so when done):
#   - from Debian: Lua 5.1 (Argo CD runs health checks with gopher-lua, a Lua 5.1), python3 with
#     PyYAML and venv, jq;
#   - the venv tests/chart/.venv with tests/chart/requirements.txt: PyPI's helm-python-sdk, real
#     Helm (v4's Go SDK as a C library) for tests/chart/helm.py, without a helm binary.
set -euo pipefail
here="$(cd "$(dirname "${BASH_SOURCE[0]}")" && pwd)"
packages=(lua5.1 python3 python3-yaml python3-venv jq)
missing=()
for p in "${packages[@]}"; do
  dpkg-query -W -f='${Status}' "$p" 2>/dev/null | grep -q "install ok installed" || missing+=("$p")
done
if ((${#missing[@]})); then
  SUDO=""
  [[ $(id -u) -eq 0 ]] || SUDO=sudo
  echo "install-deps: installing ${missing[*]}" >&2
  $SUDO apt-get update -qq
  DEBIAN_FRONTEND=noninteractive $SUDO apt-get install -y -qq --no-install-recommends "${missing[@]}" >/dev/null
fi

venv="$here/.venv" requirements="$here/requirements.txt"
want="$(sha256sum "$requirements" | cut -d' ' -f1) $(/usr/bin/python3 --version 2>&1)"
if [[ -x $venv/bin/python && -f $venv/.installed && "$(<"$venv/.installed")" == "$want" ]]; then
  exit 0
fi
echo "install-deps: creating the chart venv $venv (helm-python-sdk)" >&2
rm -rf "$venv"
/usr/bin/python3 -m venv "$venv"
"$venv/bin/pip" install -q --disable-pip-version-check -r "$requirements" ||
  { echo "install-deps: pip could not install $requirements" >&2; exit 1; }
"$venv/bin/python" -c 'import helm_python, yaml; helm_python.helm_sdk_version()' ||
  { echo "install-deps: helm-python-sdk does not load in $venv" >&2; exit 1; }
echo "$want" >"$venv/.installed"
