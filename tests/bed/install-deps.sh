#!/usr/bin/env bash
# Installs what the local test bed needs on a fresh Debian bookworm machine (CI runs it):
#   - apt packages: etcd-server, openssl, jq, curl, lua5.1 (Argo CD health-check tests),
#     python3-venv, buildah (make image and its test: from scratch, vfs storage, chroot
#     isolation, no daemon), shellcheck (make shellcheck), and Debian's kubernetes-client when
#     no working kubectl is on PATH;
#   - kube-apiserver and kube-controller-manager, built once into the cache
#     (tests/bed/build-control-plane.sh; about 10 minutes the first time on 2 cores);
#   - the Python virtualenv tests/bed/.venv with the pinned tests/bed/requirements.txt.
# Idempotent, and takes a second or two when everything is already there.
# --apt-only: the apt packages alone (what `make image` needs: buildah).
set -euo pipefail

# shellcheck source-path=SCRIPTDIR source=lib.sh
source "$(dirname "${BASH_SOURCE[0]}")/lib.sh"

SUDO=""
if [[ $(id -u) -ne 0 ]]; then
  command -v sudo >/dev/null || die "not root and no sudo: cannot install apt packages"
  SUDO="sudo"
fi

APT_PACKAGES=(etcd-server openssl jq curl lua5.1 python3 python3-venv ca-certificates util-linux coreutils buildah shellcheck)

installed() { dpkg-query -W -f='${Status}' "$1" 2>/dev/null | grep -q "install ok installed"; }

install_apt_packages() {
  local missing=() pkg
  for pkg in "${APT_PACKAGES[@]}"; do
    installed "$pkg" || missing+=("$pkg")
  done
  # Any working kubectl will do (the base image has one from Google's repository, which CI
  # machines may lack); otherwise Debian's own, v1.20.2 like the bed's control plane.
  if ! command -v kubectl >/dev/null; then
    missing+=(kubernetes-client)
  elif ! kubectl version --client >/dev/null 2>&1; then
    die "$(command -v kubectl) does not run ('kubectl version --client' fails); fix or remove it and rerun"
  fi
  if ((${#missing[@]} == 0)); then
    return 0
  fi
  log "installing apt packages: ${missing[*]}"
  $SUDO apt-get update -qq
  DEBIAN_FRONTEND=noninteractive $SUDO apt-get install -y -qq --no-install-recommends "${missing[@]}" >/dev/null
  if ! kubectl version --client >/dev/null 2>&1; then
    die "kubectl still does not run after installing ${missing[*]}"
  fi
}

install_venv() {
  local python="${TESTBED_PYTHON:-/usr/bin/python3}"
  [[ -x "$python" ]] || die "$python not found (set TESTBED_PYTHON to a Python 3.11+)"
  local requirements="$BED_DIR/requirements.txt" stamp="$VENV_DIR/.installed"
  local want
  want="$(sha256sum "$requirements" | cut -d' ' -f1) $("$python" --version 2>&1)"
  if [[ -x "$VENV_DIR/bin/python" && -f "$stamp" && "$(<"$stamp")" == "$want" ]]; then
    return 0
  fi
  log "creating the Python venv $VENV_DIR from requirements.txt"
  rm -rf "$VENV_DIR"
  "$python" -m venv "$VENV_DIR" || die "'$python -m venv' failed (is python3-venv installed?)"
  "$VENV_DIR/bin/pip" install -q --disable-pip-version-check -r "$requirements" ||
    die "pip could not install $requirements"
  "$VENV_DIR/bin/python" -c "import moto, boto3, pytest, werkzeug" ||
    die "the venv at $VENV_DIR lacks moto/boto3/pytest after installing"
  echo "$want" >"$stamp"
}

main() {
  local began=$SECONDS
  install_apt_packages
  [[ ${1:-} == --apt-only ]] && return 0
  bash "$BED_DIR/build-control-plane.sh"
  install_venv
  log "dependencies ready ($((SECONDS - began))s)"
}

main "$@"
