# Sourced by the integration scripts: a scratch folder `work`, removed at exit with any background
# processes listed in `pids`; pass/fail counters; and the closing summary.
work=$(mktemp -d)
pids=()
trap 'for p in "${pids[@]}"; do kill "$p" 2>/dev/null; done; rm -rf "$work"' EXIT
passed=0 failed=0
pass() { passed=$((passed + 1)); }
fail() { failed=$((failed + 1)); printf 'FAIL %s\n' "$*" | head -30; }
# start_server LOG PROGRAM ARGS...: starts an llmctl-serve (PROGRAM) with ARGS and --port 0, logging to
# LOG, and waits for its model; sets server_pid and server_port; false when it did not start.
start_server() {
  local log=$1; shift
  LLMCTL_LOG_LEVEL=info "$@" --port 0 >"$log" 2>&1 &
  server_pid=$!
  pids+=("$server_pid")
  for _ in $(seq 600); do
    grep -q "Application startup complete" "$log" && break
    kill -0 "$server_pid" 2>/dev/null || break
    sleep 0.05
  done
  server_port=$(grep -oP 'Starting llmctl API server on http://[^ ]+:\K[0-9]+' "$log")
  grep -q "Application startup complete" "$log"
}
# summary [MIN_PASSED]: prints the counts; true when nothing failed and at least MIN_PASSED passed.
summary() {
  printf '%d passed, %d failed\n' "$passed" "$failed"
  [[ $failed -eq 0 && $passed -ge ${1:-0} ]]
}
