#!/usr/bin/env bash
# make shellcheck: lints every shell script the repository tracks (a name ending in .sh or .bash,
# or a shell #! line, so a new script is covered without being listed here), following the files
# they source. Fails on any finding, style included.
set -euo pipefail
cd "$(dirname "${BASH_SOURCE[0]}")/.."

command -v shellcheck >/dev/null || {
  echo "shellcheck: not installed (tests/bed/install-deps.sh installs it)" >&2
  exit 1
}

scripts=()
while IFS= read -r -d '' file; do
  [[ -f "$file" ]] || continue # listed by git but deleted in the work tree
  if [[ "$file" == *.sh || "$file" == *.bash ]] ||
    head -n1 -- "$file" | grep -qE '^#!.*[/ ](ba|da|k)?sh([[:space:]]|$)'; then
    scripts+=("$file")
  fi
done < <(git ls-files -z)

((${#scripts[@]} > 0)) || {
  echo "shellcheck: found no shell scripts (not a git checkout?)" >&2
  exit 1
}
echo "shellcheck: ${#scripts[@]} scripts" >&2
shellcheck --external-sources "${scripts[@]}"
