# Sourced by the integration scripts: a scratch folder `work`, removed at exit with any background
# processes listed in `pids`; pass/fail counters; and the closing summary.
work=$(mktemp -d)
pids=()
trap 'for p in "${pids[@]}"; do kill "$p" 2>/dev/null; done; rm -rf "$work"' EXIT
passed=0 failed=0
pass() { passed=$((passed + 1)); }
fail() { failed=$((failed + 1)); printf 'FAIL %s\n' "$*" | head -30; }
# summary [MIN_PASSED]: prints the counts; true when nothing failed and at least MIN_PASSED passed.
summary() {
  printf '%d passed, %d failed\n' "$passed" "$failed"
  [[ $failed -eq 0 && $passed -ge ${1:-0} ]]
}
