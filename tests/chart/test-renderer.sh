#!/usr/bin/env bash
# Self-test of tests/chart/helmrender against Helm behaviour: renders the fixture chart
# testdata/renderer/moby (values from two -f files, null deletion, include/tpl/required/fail,
# .Files, .Capabilities, crds/, manifest splitting and kind ordering) and compares with
# testdata/renderer/expected.yaml, whose every line was checked by hand against Helm 3's
# documented semantics and its engine tests; then the error cases. Quiet on success.
set -euo pipefail
here="$(cd "$(dirname "${BASH_SOURCE[0]}")" && pwd)"
bin="$("$here/build-renderer.sh")"
t="$here/testdata/renderer"
fail=0
err() { echo "renderer: $*" >&2; fail=1; }

out="$("$bin" --name rel --namespace ns --include-crds -f "$t/user1.yaml" -f "$t/user2.yaml" "$t/moby")" ||
  err "fixture chart did not render"
diff -u "$t/expected.yaml" <(printf '%s\n' "$out") >&2 || err "output differs from testdata/renderer/expected.yaml"

num="$("$bin" --float-numbers -f "$t/user1.yaml" "$t/moby" | grep 'number:')"
[[ $num == '  number: "1e+06"' ]] || err "--float-numbers: got [$num], want the float64 rendering 1e+06"

notes="$("$bin" --notes --name rel "$t/moby")"
[[ $notes == "notes for rel: hello DEFAULT" ]] || err "NOTES.txt: got [$notes]"

expect_error() { # values-file-or-flag chart message
  local msg
  if msg="$("$bin" "${@:1:$#-2}" "${@: -2:1}" 2>&1 >/dev/null)"; then
    err "expected an error for ${*:1:$#-1}"
  elif [[ $msg != "${*: -1}" ]]; then
    err "error for ${*:1:$#-1}: got [$msg], want [${*: -1}]"
  fi
}
expect_error -f "$t/fail.yaml" "$t/moby" \
  "Error: execution error at (moby/templates/guard.yaml:1:29): boom: with a colon"
expect_error -f "$t/required.yaml" "$t/moby" \
  "Error: execution error at (moby/templates/guard.yaml:2:30): requireIt.value is required"
expect_error "$t/broken" \
  'Error: parse error at (broken/templates/x.yaml:1): function "foo" not defined'
expect_error --kube-version 1.19.3 "$t/moby" \
  "Error: chart requires kubeVersion: >=1.20.0-0 which is incompatible with Kubernetes v1.19.3"
exit $fail
