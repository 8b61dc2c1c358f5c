#!/usr/bin/env bash
# The committed completion scripts must be what the flag definitions generate now.
#   test_completions.sh GENERATOR SOURCE_DIR
set -eu
generator=$1 src=$2
out=$(mktemp -d)
trap 'rm -rf "$out"' EXIT
"$generator" "$out"
for file in llmctl.bash _llmctl llmctl.fish; do
  if ! diff -u "$src/completions/$file" "$out/$file"; then
    echo "completions/$file is stale: run 'cmake --build build --target update-completions' and commit it" >&2
    exit 1
  fi
done
echo "3 passed, 0 failed"
