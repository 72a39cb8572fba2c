#!/usr/bin/env bash
# Starts the local test bed in the background and prints the path of its env file:
#   etcd, kube-apiserver (TLS from a CA made here, token auth, RBAC), kube-controller-manager
#   (namespace, garbage collector, service accounts and their tokens, cluster-role
#   aggregation), and the AWS emulator
#   (moto + tests/bed/emulator), all on free 127.0.0.1 ports chosen now.
# State lives in .testbed/ (see tests/bed/README.md). Idempotent: when the bed is up and
# healthy it only prints the env path; stale state is cleaned and the bed restarted.
#
# TESTBED_KUBECONFIG=/path/to/kubeconfig: use that cluster instead (e.g. a kind cluster in
# CI elsewhere). Nothing Kubernetes is built or started; KUBECONFIG and
# TESTBED_OPERATOR_KUBECONFIG both point at that file (so RBAC tests cannot run as a
# restricted user there), and only the emulator is started.
#
# EMULATOR_* timing variables (see README) are passed on to the emulator when it starts.
#
# Usage: tests/bed/up.sh && source .testbed/env
set -euo pipefail

# shellcheck source-path=SCRIPTDIR source=lib.sh
source "$(dirname "${BASH_SOURCE[0]}")/lib.sh"

READY_TIMEOUT="${TESTBED_READY_TIMEOUT:-90}"
ENV_FILE="$TESTBED_DIR/env"
MODE="local"
if [[ -n "${TESTBED_KUBECONFIG:-}" ]]; then
  [[ -f "$TESTBED_KUBECONFIG" ]] || die "TESTBED_KUBECONFIG=$TESTBED_KUBECONFIG is not a file"
  TESTBED_KUBECONFIG="$(cd "$(dirname "$TESTBED_KUBECONFIG")" && pwd)/$(basename "$TESTBED_KUBECONFIG")"
  MODE="external $TESTBED_KUBECONFIG"
fi

needed_components() {
  if [[ "$MODE" == local ]]; then echo "${COMPONENTS[@]}"; else echo emulator; fi
}

# api_get PATH [curl args...]: a GET as the admin; fails on a non-2xx answer.
api_get() {
  local path="$1"
  shift
  [[ -f "$TESTBED_DIR/apiserver.port" && -f "$TESTBED_DIR/admin.token" && -f "$TESTBED_DIR/pki/ca.crt" ]] || return 1
  curl -sf --max-time 5 --cacert "$TESTBED_DIR/pki/ca.crt" \
    -H "Authorization: Bearer $(<"$TESTBED_DIR/admin.token")" \
    "https://127.0.0.1:$(<"$TESTBED_DIR/apiserver.port")$path" "$@"
}

api_ready() { api_get /readyz -o /dev/null; }

emulator_ready() {
  [[ -f "$TESTBED_DIR/emulator.port" ]] || return 1
  curl -sf --max-time 3 "http://127.0.0.1:$(<"$TESTBED_DIR/emulator.port")/_emulator/health" -o /dev/null
}

bed_healthy() {
  [[ -f "$ENV_FILE" && -f "$TESTBED_DIR/mode" ]] || return 1
  [[ "$(<"$TESTBED_DIR/mode")" == "$MODE" ]] || return 1
  local name
  for name in $(needed_components); do
    component_pid "$name" >/dev/null || return 1
  done
  if [[ "$MODE" == local ]]; then api_ready || return 1; fi
  emulator_ready
}

# Runs a component detached from this shell (own session, no terminal, no inherited lock
# fd), so it survives `make testbed` returning; records its pid.
start_component() {
  local name="$1"
  shift
  setsid nohup "$@" </dev/null >"$(log_file "$name")" 2>&1 9>&- &
  local pid=$!
  echo "$pid" >"$(pid_file "$name")"
  # Until the forked shell has exec'd the command, its command line is this script's and
  # component_pid would not recognize it; wait for the exec (or the process's end).
  local i
  for ((i = 0; i < 100; i++)); do
    component_pid "$name" >/dev/null && return 0
    kill -0 "$pid" 2>/dev/null || return 0
    sleep 0.05
  done
}

# wait_for NAME WHAT CHECK...: polls CHECK until it succeeds; fails fast, with the
# component's log, if the component dies or READY_TIMEOUT passes.
wait_for() {
  local name="$1" what="$2"
  shift 2
  local deadline=$((SECONDS + READY_TIMEOUT))
  until "$@"; do
    if ! component_pid "$name" >/dev/null; then
      show_log_tail "$name"
      die "$name exited before $what"
    fi
    if ((SECONDS >= deadline)); then
      show_log_tail "$name"
      die "$name: no $what within ${READY_TIMEOUT}s"
    fi
    sleep 0.2
  done
}

free_ports() { # N -> N distinct free loopback ports, one per line
  python3 - "$1" <<'PY'
import socket, sys
socks = []
for _ in range(int(sys.argv[1])):
    s = socket.socket()
    s.bind(("127.0.0.1", 0))
    socks.append(s)
print("\n".join(str(s.getsockname()[1]) for s in socks))
PY
}

make_pki() {
  local pki="$TESTBED_DIR/pki"
  mkdir -p "$pki"
  # A CA with the extensions webpki (rustls) insists on, and a serving certificate for
  # 127.0.0.1 and localhost that a client can verify without skipping TLS checks.
  openssl req -x509 -new -nodes -newkey rsa:2048 -sha256 -days 3650 \
    -keyout "$pki/ca.key" -out "$pki/ca.crt" -subj "/CN=emr-on-eks-operator-testbed-ca" \
    -addext "basicConstraints=critical,CA:TRUE" \
    -addext "keyUsage=critical,keyCertSign,cRLSign,digitalSignature" 2>/dev/null
  openssl req -new -nodes -newkey rsa:2048 -sha256 \
    -keyout "$pki/apiserver.key" -out "$pki/apiserver.csr" -subj "/CN=kube-apiserver" 2>/dev/null
  cat >"$pki/apiserver.ext" <<'EXT'
basicConstraints=critical,CA:FALSE
keyUsage=critical,digitalSignature,keyEncipherment
extendedKeyUsage=serverAuth
subjectAltName=IP:127.0.0.1,DNS:localhost,DNS:kubernetes,DNS:kubernetes.default,DNS:kubernetes.default.svc,IP:10.96.0.1
EXT
  openssl x509 -req -sha256 -days 3650 -in "$pki/apiserver.csr" -CA "$pki/ca.crt" -CAkey "$pki/ca.key" \
    -CAcreateserial -out "$pki/apiserver.crt" -extfile "$pki/apiserver.ext" 2>/dev/null
  # The service-account token signing key pair (apiserver verifies, both sign).
  openssl genrsa -out "$pki/sa.key" 2048 2>/dev/null
  openssl rsa -in "$pki/sa.key" -pubout -out "$pki/sa.pub" 2>/dev/null
  chmod 600 "$pki"/*.key
}

write_kubeconfig() { # file user token
  local ca_data
  ca_data="$(base64 -w0 <"$TESTBED_DIR/pki/ca.crt")"
  cat >"$1" <<KC
apiVersion: v1
kind: Config
clusters:
- name: testbed
  cluster:
    server: https://127.0.0.1:$API_PORT
    certificate-authority-data: $ca_data
users:
- name: $2
  user:
    token: $3
contexts:
- name: testbed
  context:
    cluster: testbed
    user: $2
    namespace: default
current-context: testbed
KC
  chmod 600 "$1"
}

start_kubernetes() {
  local etcd_bin kube_apiserver kube_cm
  etcd_bin="$(command -v etcd)" || die "etcd not found; run tests/bed/install-deps.sh"
  kube_apiserver="$KUBE_BIN_DIR/kube-apiserver"
  kube_cm="$KUBE_BIN_DIR/kube-controller-manager"
  [[ -x "$kube_apiserver" && -x "$kube_cm" ]] ||
    die "no control-plane binaries in $KUBE_BIN_DIR; run tests/bed/install-deps.sh"
  command -v openssl >/dev/null || die "openssl not found; run tests/bed/install-deps.sh"

  local ports
  mapfile -t ports < <(free_ports 3)
  local etcd_port="${ports[0]}" peer_port="${ports[1]}"
  API_PORT="${ports[2]}"
  echo "$API_PORT" >"$TESTBED_DIR/apiserver.port"

  make_pki
  local admin_token operator_token kcm_token
  admin_token="$(openssl rand -hex 24)"
  operator_token="$(openssl rand -hex 24)"
  kcm_token="$(openssl rand -hex 24)"
  echo "$admin_token" >"$TESTBED_DIR/admin.token"
  # token,user,uid,"groups". The operator's test user has no group: it gets exactly what a
  # test binds to it (system:authenticated is added by the apiserver).
  cat >"$TESTBED_DIR/tokens.csv" <<TOK
$admin_token,testbed-admin,testbed-admin,"system:masters"
$operator_token,emr-on-eks-operator-test,emr-on-eks-operator-test
$kcm_token,system:kube-controller-manager,system:kube-controller-manager
TOK
  chmod 600 "$TESTBED_DIR/tokens.csv" "$TESTBED_DIR/admin.token"
  write_kubeconfig "$TESTBED_DIR/kubeconfig" testbed-admin "$admin_token"
  write_kubeconfig "$TESTBED_DIR/operator.kubeconfig" emr-on-eks-operator-test "$operator_token"
  write_kubeconfig "$TESTBED_DIR/controller-manager.kubeconfig" system:kube-controller-manager "$kcm_token"

  log "starting etcd on 127.0.0.1:$etcd_port"
  start_component etcd "$etcd_bin" --name testbed --data-dir "$TESTBED_DIR/etcd" \
    --listen-client-urls "http://127.0.0.1:$etcd_port" --advertise-client-urls "http://127.0.0.1:$etcd_port" \
    --listen-peer-urls "http://127.0.0.1:$peer_port" --initial-advertise-peer-urls "http://127.0.0.1:$peer_port" \
    --initial-cluster "testbed=http://127.0.0.1:$peer_port" --initial-cluster-state new \
    --logger zap --log-level warn
  wait_for etcd "health on port $etcd_port" curl -sf --max-time 2 "http://127.0.0.1:$etcd_port/health" -o /dev/null

  log "starting kube-apiserver on https://127.0.0.1:$API_PORT"
  local pki="$TESTBED_DIR/pki"
  start_component kube-apiserver "$kube_apiserver" \
    --etcd-servers "http://127.0.0.1:$etcd_port" \
    --bind-address 127.0.0.1 --advertise-address 127.0.0.1 --secure-port "$API_PORT" \
    --tls-cert-file "$pki/apiserver.crt" --tls-private-key-file "$pki/apiserver.key" \
    --client-ca-file "$pki/ca.crt" --cert-dir "$pki" \
    --token-auth-file "$TESTBED_DIR/tokens.csv" \
    --authorization-mode RBAC \
    --service-account-issuer https://kubernetes.default.svc.cluster.local \
    --service-account-key-file "$pki/sa.pub" --service-account-signing-key-file "$pki/sa.key" \
    --api-audiences https://kubernetes.default.svc.cluster.local \
    --service-cluster-ip-range 10.96.0.0/16 \
    --endpoint-reconciler-type none \
    --profiling="${TESTBED_PROFILING:-false}"
  wait_for kube-apiserver "/readyz" api_ready

  # clusterrole-aggregation fills the built-in admin/edit/view roles (they are empty
  # aggregation shells without it), so a chart that aggregates into them can be tested.
  # resourcequota computes ResourceQuota status (hard, used), which the preflight reads.
  log "starting kube-controller-manager"
  start_component kube-controller-manager "$kube_cm" \
    --kubeconfig "$TESTBED_DIR/controller-manager.kubeconfig" \
    --controllers namespace,garbagecollector,serviceaccount,serviceaccount-token,clusterrole-aggregation,resourcequota \
    --use-service-account-credentials \
    --service-account-private-key-file "$pki/sa.key" --root-ca-file "$pki/ca.crt" \
    --leader-elect=false --port 0 --secure-port 0 --profiling=false
  # kube-apiserver makes default and kube-system; the controller manager's service-account
  # controller making `default` there shows it is connected and working.
  wait_for kube-apiserver "namespace kube-system" api_get /api/v1/namespaces/kube-system -o /dev/null
  wait_for kube-controller-manager "the default service account" \
    api_get /api/v1/namespaces/default/serviceaccounts/default -o /dev/null
}

start_emulator() {
  local python="$VENV_DIR/bin/python"
  [[ -x "$python" ]] || die "no Python venv at $VENV_DIR; run tests/bed/install-deps.sh"
  log "starting the AWS emulator"
  start_component emulator env PYTHONPATH="$BED_DIR/emulator" PYTHONDONTWRITEBYTECODE=1 \
    "$python" -m emr_emulator --host 127.0.0.1 --port 0 --port-file "$TESTBED_DIR/emulator.port"
  wait_for emulator "/_emulator/health" emulator_ready
}

write_env() {
  local kubeconfig="$TESTBED_DIR/kubeconfig" operator="$TESTBED_DIR/operator.kubeconfig"
  if [[ "$MODE" != local ]]; then
    kubeconfig="$TESTBED_KUBECONFIG"
    operator="$TESTBED_KUBECONFIG"
  fi
  local url
  url="http://127.0.0.1:$(<"$TESTBED_DIR/emulator.port")"
  {
    echo "# Written by tests/bed/up.sh; source it. Removed by tests/bed/down.sh."
    printf 'export %s=%q\n' \
      TESTBED_DIR "$TESTBED_DIR" \
      KUBECONFIG "$kubeconfig" \
      TESTBED_OPERATOR_KUBECONFIG "$operator" \
      AWS_ENDPOINT_URL "$url" \
      EMULATOR_URL "$url" \
      AWS_REGION us-east-1 \
      AWS_DEFAULT_REGION us-east-1 \
      AWS_ACCESS_KEY_ID testing \
      AWS_SECRET_ACCESS_KEY testing
  } >"$ENV_FILE.tmp"
  mv "$ENV_FILE.tmp" "$ENV_FILE"
}

# emulator_code: a fingerprint of the emulator's code, so a bed started before it changed is
# restarted instead of serving the old emulator to new tests.
emulator_code() {
  find "$BED_DIR/emulator" -name '*.py' -not -path '*/tests/*' -print0 | sort -z | xargs -0 sha256sum | sha256sum | cut -d' ' -f1
}

main() {
  command -v curl >/dev/null || die "curl not found; run tests/bed/install-deps.sh"
  command -v flock >/dev/null || die "flock not found (util-linux); run tests/bed/install-deps.sh"
  take_lock
  if bed_healthy; then
    if [[ "$(cat "$TESTBED_DIR/emulator.code" 2>/dev/null)" == "$(emulator_code)" ]]; then
      echo "$ENV_FILE"
      return 0
    fi
    log "the emulator's code changed since the bed started; starting the bed again"
  fi
  if [[ -e "$TESTBED_DIR/mode" || -e "$TESTBED_DIR/pids" ]]; then
    log "bed in $TESTBED_DIR is stale or incomplete; cleaning it and starting again"
  fi
  stop_components
  remove_state
  mkdir -p "$TESTBED_DIR/pids" "$TESTBED_DIR/logs"
  # A failed start stops what it started but keeps the logs; the next up.sh cleans them.
  trap 'if (($? != 0)); then log "start failed; stopping what was started (logs kept in $TESTBED_DIR/logs)"; stop_components; rm -f "$ENV_FILE"; fi' EXIT
  echo "$MODE" >"$TESTBED_DIR/mode"

  local began=$SECONDS
  if [[ "$MODE" == local ]]; then
    start_kubernetes
  else
    log "TESTBED_KUBECONFIG set: using $TESTBED_KUBECONFIG, starting only the emulator"
  fi
  start_emulator
  emulator_code >"$TESTBED_DIR/emulator.code"
  write_env
  log "up in $((SECONDS - began))s; state in $TESTBED_DIR"
  echo "$ENV_FILE"
}

main "$@"
