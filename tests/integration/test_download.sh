#!/usr/bin/env bash
# llmctl download against the loopback hub double (tests/hub), under the faults of
# shared/reference/hub.md §6.3: every run must end with correct files or a clear non-zero exit, and
# never leave a corrupt file where a loader would read it.
#   test_download.sh BIN_DIR HUB_DOUBLE SOURCE_DIR
set -u
bin=$1 double=$2 src=$3
source "$(dirname "${BASH_SOURCE[0]}")/checks.sh"
check() { local name=$1; shift; if "$@"; then pass; else fail "$name"; fi; }

# Fixture repositories: a large file (several 16 MiB chunks), small and nested files, a private repo,
# and a name with a dot (ModelScope's ___ layout).
repos=$work/repos
mkdir -p "$repos/org/tiny/sub" "$repos/org/secret" "$repos/Qwen/Qwen2.5-0.5B" "$repos/Qwen/Qwen2.5-7B-Instruct"
cp "$src"/tests/fixtures/configs/Qwen--Qwen2.5-7B-Instruct/*.json "$repos/Qwen/Qwen2.5-7B-Instruct/"
head -c 3000000 /dev/urandom >"$repos/Qwen/Qwen2.5-7B-Instruct/model.safetensors"
printf '{"architectures": ["Qwen2ForCausalLM"]}\n' >"$repos/org/tiny/config.json"
head -c 40000000 /dev/urandom >"$repos/org/tiny/model.safetensors"
printf 'nested\n' >"$repos/org/tiny/sub/notes.txt"
printf 'secret\n' >"$repos/org/secret/config.json"
printf '{"private": true}\n' >"$repos/org/secret/.hub.json"
printf '{"a": 1}\n' >"$repos/Qwen/Qwen2.5-0.5B/config.json"
big_sha=$(sha256sum "$repos/org/tiny/model.safetensors" | cut -d' ' -f1)

# start_double SCENARIO_JSON: a fresh double (the previous one stops); sets HUB, CDN and LOG.
start_double() {
  [[ ${#pids[@]} -gt 0 ]] && kill "${pids[-1]}" 2>/dev/null
  local dir; dir=$(mktemp -d -p "$work")
  printf '%s' "${1:-[]}" >"$dir/scenario.json"
  "$double" --repos "$repos" --scenario "$dir/scenario.json" --token hf_good --log "$dir/log.jsonl" --port-file "$dir/ports" \
    >"$dir/out" 2>&1 &
  pids+=($!)
  for _ in $(seq 100); do [[ -s $dir/ports ]] && break; sleep 0.05; done
  read -r HUB CDN <"$dir/ports"
  LOG=$dir/log.jsonl
}
fresh_cache() { CACHE=$(mktemp -d -p "$work"); }
# download ARGS...: llmctl download against the current double into the current cache.
download() {
  HF_ENDPOINT=http://127.0.0.1:$HUB HF_HUB_DOWNLOAD_TIMEOUT=2 HF_TOKEN= HF_HOME=$work/home timeout 120 \
    "$bin/llmctl-download" "$@" >"$work/out" 2>"$work/err"
}
snapshot_ok() {  # the cache holds the fixture's bytes, reachable through the snapshot's relative links
  local snap; snap=$(tail -1 "$work/out")
  [[ -d $snap && $(sha256sum <"$snap/model.safetensors" | cut -d' ' -f1) == "$big_sha" ]] &&
    cmp -s "$snap/config.json" "$repos/org/tiny/config.json" && cmp -s "$snap/sub/notes.txt" "$repos/org/tiny/sub/notes.txt" &&
    [[ $(readlink "$snap/sub/notes.txt") == ../../../blobs/* ]] && [[ ! -e $CACHE/models--org--tiny/blobs/$big_sha.llmctl-partial ]]
}
no_corrupt_blob() {  # nothing unverified under a final name
  local f
  for f in "$CACHE"/models--org--tiny/blobs/*; do
    [[ -e $f ]] || continue
    case $f in *.llmctl-partial | *.llmctl-partial.json) continue ;; esac
    [[ $(basename "$f") == "$big_sha" && $(sha256sum <"$f" | cut -d' ' -f1) != "$big_sha" ]] && return 1
  done
  [[ ! -e $CACHE/models--org--tiny/snapshots/*/model.safetensors ]] || [[ $(sha256sum <"$CACHE"/models--org--tiny/snapshots/*/model.safetensors | cut -d' ' -f1) == "$big_sha" ]]
}
cdn_saw_auth() { grep '"server":"cdn"' "$LOG" | grep -q '"authorization":true'; }

# The plain case: the HF cache layout, relative links, refs, CACHEDIR.TAG; the path is the last line.
start_double; fresh_cache
check "download into the cache" download org/tiny --cache-dir "$CACHE"
check "the snapshot holds the verified files" snapshot_ok
check "refs/main names the commit" test "$(cat "$CACHE/models--org--tiny/refs/main")" == "$(basename "$(tail -1 "$work/out")")"
check "CACHEDIR.TAG" grep -q '^Signature: 8a477f597d28d172789f06886806bc55' "$CACHE/CACHEDIR.TAG"
check "the large file came in parallel ranges" test "$(grep '"server":"cdn"' "$LOG" | grep -c '"range":"bytes=')" -ge 3
requests_before=$(wc -l <"$LOG")
check "a second run finds everything" download org/tiny --cache-dir "$CACHE"
check "and downloads nothing" test "$(grep -c '"server":"cdn"' "$LOG")" -eq "$(head -n "$requests_before" "$LOG" | grep -c '"server":"cdn"')"
requests_before=$(wc -l <"$LOG")
check "offline: the cache answers" env HF_HUB_OFFLINE=1 bash -c "HF_ENDPOINT=http://127.0.0.1:$HUB '$bin/llmctl-download' org/tiny --cache-dir '$CACHE' | tail -1 | grep -q snapshots/"
HF_HUB_OFFLINE=1 download org/other --cache-dir "$CACHE"; rc=$?
check "offline: missing is an error" bash -c "[[ $rc -eq 1 ]] && grep -q 'not in the cache' '$work/err'"
check "offline: no request reached the hub" test "$(wc -l <"$LOG")" -eq "$requests_before"

# --local-dir, a file list, include/exclude, --dry-run, --json
local_dir=$work/local
check "--local-dir" download org/tiny --local-dir "$local_dir"
check "plain files with metadata" test -f "$local_dir/model.safetensors" -a ! -L "$local_dir/model.safetensors" -a -f "$local_dir/.cache/huggingface/download/model.safetensors.metadata"
# A stale file and an LFS pointer left by a git clone are replaced, not trusted.
printf '{"old": true}\n' >"$local_dir/config.json"
printf 'version https://git-lfs.github.com/spec/v1\n' >"$local_dir/model.safetensors"
rm -rf "$local_dir/.cache"
check "--local-dir over stale files" download org/tiny --local-dir "$local_dir"
check "stale files replaced by the hub's" bash -c "cmp -s '$local_dir/config.json' '$repos/org/tiny/config.json' && [[ \$(sha256sum <'$local_dir/model.safetensors' | cut -d' ' -f1) == $big_sha ]]"
check "no partial files among the user's" bash -c "! ls '$local_dir' | grep -q partial"
fresh_cache
check "one file" download org/tiny sub/notes.txt --cache-dir "$CACHE"
check "the path of that one file" bash -c "[[ \$(tail -1 '$work/out') == */sub/notes.txt ]]"
check "--exclude" download org/tiny --cache-dir "$CACHE" --exclude '*.safetensors' --json
check "--json lists the outcome" python3 -c "import json; d=json.load(open('$work/out')); assert d['complete'] and sorted(f['path'] for f in d['files']) == ['config.json', 'sub/notes.txt'], d"
check "--dry-run" download org/tiny --cache-dir "$CACHE" --dry-run
check "--dry-run says what it would do" grep -q 'Will download 1 files (out of 3)' "$work/out"

# Faults
run_fault() {  # NAME SCENARIO: a fresh double and cache; the fault must happen and the download succeed verified
  local name=$1 scenario=$2
  local type; type=$(grep -o '"type":"[a-z_]*"' <<<"$scenario" | cut -d'"' -f4)
  start_double "$scenario"; fresh_cache
  if download org/tiny --cache-dir "$CACHE" && snapshot_ok && grep -q "\"fault\":\"$type\"" "$LOG"; then pass; else
    fail "$name: $(tail -3 "$work/err")"
  fi
}
run_fault "connection dropped mid-body" '[{"match":{"server":"cdn","method":"GET"},"times":2,"fault":{"type":"drop_after","bytes":100000}}]'
run_fault "stall (watchdog)" '[{"match":{"server":"cdn","method":"GET"},"times":1,"fault":{"type":"stall","seconds":30,"after_bytes":1000}}]'
run_fault "5xx on the API" '[{"match":{"server":"hub","path":"/api/"},"times":2,"fault":{"type":"status","code":503}}]'
run_fault "5xx on the bytes" '[{"match":{"server":"cdn","method":"GET"},"times":2,"fault":{"type":"status","code":502}}]'
run_fault "wrong Content-Length (longer)" '[{"match":{"server":"cdn","method":"GET"},"times":1,"fault":{"type":"content_length","delta":10}}]'
run_fault "wrong Content-Length (shorter)" '[{"match":{"server":"cdn","method":"GET"},"times":1,"fault":{"type":"content_length","delta":-10}}]'
run_fault "flipped byte, once" '[{"match":{"server":"cdn","method":"GET"},"times":1,"fault":{"type":"flip_byte","offset":5}}]'
run_fault "Range ignored" '[{"match":{"server":"cdn","method":"GET"},"times":-1,"fault":{"type":"ignore_range"}}]'
run_fault "wrong Content-Range" '[{"match":{"server":"cdn","method":"GET"},"times":1,"fault":{"type":"wrong_content_range"}}]'
run_fault "redirect chain" '[{"match":{"server":"hub","method":"HEAD","path":"/resolve/"},"times":1,"fault":{"type":"redirect_chain","hops":3,"relative":true}}]'
run_fault "expired signed URL" '[{"match":{"server":"cdn","method":"GET"},"times":1,"fault":{"type":"expire_url"}}]'
run_fault "gzip without Content-Length" '[{"match":{"server":"hub","path":"/resolve-cache/"},"times":-1,"fault":{"type":"gzip"}}]'

start_double '[{"match":{"server":"hub","path":"/api/models/org/tiny/revision"},"times":1,"fault":{"type":"rate_limit","seconds":2,"style":"ratelimit"}}]'; fresh_cache
start_time=$(date +%s)
check "429 with RateLimit" download org/tiny --cache-dir "$CACHE"
check "waited as RateLimit said" test $(($(date +%s) - start_time)) -ge 2
start_double '[{"match":{"server":"hub","path":"/api/models/org/tiny/revision"},"times":1,"fault":{"type":"rate_limit","seconds":2,"style":"retry_after_date"}}]'; fresh_cache
check "429 with an HTTP-date Retry-After" download org/tiny --cache-dir "$CACHE"

start_double '[{"match":{"server":"cdn","method":"GET"},"times":-1,"fault":{"type":"flip_byte","offset":5}}]'; fresh_cache
download org/tiny --cache-dir "$CACHE"; rc=$?
check "persistent corruption: exit 1" test $rc -eq 1
check "persistent corruption: a summary" grep -q 'do not match the hub' "$work/err"
check "persistent corruption: no corrupt file left" no_corrupt_blob
start_double '[{"match":{"server":"hub","method":"HEAD","path":"/resolve/"},"times":-1,"fault":{"type":"redirect_loop"}}]'; fresh_cache
download org/tiny --cache-dir "$CACHE"; rc=$?
check "redirect loop: exit 1 and named" bash -c "[[ $rc -eq 1 ]] && grep -q 'redirect loop' '$work/err'"

# The token goes to the hub, never to the CDN; private repos need it.
start_double; fresh_cache
download org/secret --cache-dir "$CACHE"; rc=$?
check "private repo without a token: exit 1" test $rc -eq 1
check "private repo with --token" download org/secret --cache-dir "$CACHE" --token hf_good
check "token for the large file too" download org/tiny --cache-dir "$CACHE" --token hf_good
check "no Authorization ever reached the CDN" bash -c "! grep '\"server\":\"cdn\"' '$LOG' | grep -q '\"authorization\":true'"
check "the hub did get it" grep -q '"authorization":true' "$LOG"

# kill -9 in the middle, then the same command again: it resumes and ends verified.
start_double '[{"match":{"server":"cdn","method":"GET"},"times":-1,"fault":{"type":"trickle","bytes_per_second":4000000}}]'; fresh_cache
HF_ENDPOINT=http://127.0.0.1:$HUB HF_HOME=$work/home "$bin/llmctl-download" org/tiny --cache-dir "$CACHE" --connections-per-file 2 >/dev/null 2>&1 &
victim=$!
sleep 3
kill -9 $victim; wait $victim 2>/dev/null
check "a partial file was left to resume" bash -c "ls '$CACHE'/models--org--tiny/blobs/*.llmctl-partial >/dev/null 2>&1"
check "never under huggingface_hub's resumable name" bash -c "! ls '$CACHE'/models--org--tiny/blobs/*.incomplete >/dev/null 2>&1"
check "nothing corrupt after kill -9" no_corrupt_blob
start_double
check "the rerun completes" download org/tiny --cache-dir "$CACHE"
check "verified after the rerun" snapshot_ok

# Two clients on one cache at once.
start_double '[{"match":{"server":"cdn","method":"GET"},"times":-1,"fault":{"type":"trickle","bytes_per_second":20000000}}]'; fresh_cache
clients=()
for i in 1 2; do
  HF_ENDPOINT=http://127.0.0.1:$HUB HF_HOME=$work/home timeout 120 "$bin/llmctl-download" org/tiny --cache-dir "$CACHE" >"$work/two$i" 2>&1 &
  clients+=($!)
done
wait "${clients[@]}"
check "two clients both succeed" bash -c "tail -1 '$work/two1' | grep -q snapshots/ && tail -1 '$work/two2' | grep -q snapshots/"
check "one blob" test "$(ls "$CACHE/models--org--tiny/blobs" | grep -c "^$big_sha\$")" -eq 1
check "verified" bash -c "[[ \$(sha256sum <'$CACHE/models--org--tiny/blobs/$big_sha' | cut -d' ' -f1) == $big_sha ]]"

# ModelScope: its API and its folder layout (dots become ___).
start_double; fresh_cache
check "ModelScope" env MODELSCOPE_CACHE="$CACHE" timeout 60 "$bin/llmctl-download" Qwen/Qwen2.5-0.5B --source modelscope --endpoint "http://127.0.0.1:$HUB" >"$work/out" 2>"$work/err"
check "ModelScope layout" cmp -s "$CACHE/models/Qwen/Qwen2___5-0___5B/config.json" "$repos/Qwen/Qwen2.5-0.5B/config.json"
check "ModelScope prints the folder" bash -c "[[ \$(tail -1 '$work/out') == '$CACHE/models/Qwen/Qwen2___5-0___5B' ]]"

# A hub id where a command takes MODEL: resolved through the cache, its metadata downloaded on demand.
start_double; fresh_cache
check "inspect a hub id" env HF_ENDPOINT=http://127.0.0.1:$HUB HF_HUB_CACHE="$CACHE" bash -c \
  "'$bin/llmctl' inspect Qwen/Qwen2.5-7B-Instruct 2>'$work/err' | grep -Eq 'Parameters +7,615,616,512'"
check "only the metadata came" test ! -e "$CACHE/models--Qwen--Qwen2.5-7B-Instruct/snapshots/$(cat "$CACHE/models--Qwen--Qwen2.5-7B-Instruct/refs/main" 2>/dev/null)/model.safetensors"
check "mem-estimate a hub id, offline, from the cache" env HF_HUB_OFFLINE=1 HF_HUB_CACHE="$CACHE" bash -c \
  "'$bin/llmctl' mem-estimate Qwen/Qwen2.5-7B-Instruct --gpu h100 | grep -q 'Fits: yes'"
check "offline and not cached: one clear line" env HF_HUB_OFFLINE=1 HF_HUB_CACHE="$CACHE" bash -c \
  "! '$bin/llmctl' inspect org/absent 2>'$work/err' && grep -q 'not in the cache' '$work/err'"

# A fallback list of endpoints: a dead first one hands over to the next.
start_double; fresh_cache
check "fallback endpoints" env HF_ENDPOINT="http://127.0.0.1:9,http://127.0.0.1:$HUB" HF_HOME=$work/home timeout 60 \
  "$bin/llmctl-download" org/tiny --cache-dir "$CACHE" >"$work/out" 2>"$work/err"
check "fallback endpoints: verified" snapshot_ok
check "fallback endpoints: the dead one is named" grep -q '127.0.0.1:9.*trying the next endpoint' "$work/err"

# ModelScope's token: MODELSCOPE_API_TOKEN, sent as the m_session_id cookie and as a bearer token.
fresh_cache
env MODELSCOPE_CACHE="$CACHE" timeout 60 "$bin/llmctl-download" org/secret --source modelscope --endpoint "http://127.0.0.1:$HUB" >"$work/out" 2>"$work/err"; rc=$?
check "ModelScope private repo without a token: exit 1" test $rc -eq 1
check "ModelScope private repo with MODELSCOPE_API_TOKEN" env MODELSCOPE_CACHE="$CACHE" MODELSCOPE_API_TOKEN=hf_good timeout 60 \
  "$bin/llmctl-download" org/secret --source modelscope --endpoint "http://127.0.0.1:$HUB" >"$work/out" 2>"$work/err"
check "ModelScope private file" cmp -s "$CACHE/models/org/secret/config.json" "$repos/org/secret/config.json"

# On a terminal, progress is drawn on stderr (bytes, rate, ETA); the path still ends stdout.
start_double '[{"match":{"server":"cdn","method":"GET"},"times":-1,"fault":{"type":"trickle","bytes_per_second":20000000}}]'; fresh_cache
script -qec "env HF_ENDPOINT=http://127.0.0.1:$HUB HF_HOME=$work/home '$bin/llmctl-download' org/tiny --cache-dir '$CACHE'" "$work/tty" >/dev/null 2>&1
check "a progress display on a terminal" grep -q 'ETA' "$work/tty"
check "no progress display without one" bash -c "! grep -q 'ETA' '$work/err'"

# Bad input: one line, non-zero
download org/nope --cache-dir "$CACHE"; rc=$?
check "unknown repo: exit 1 with RepoNotFound" bash -c "[[ $rc -eq 1 ]] && grep -q 'RepoNotFound' '$work/err' && [[ \$(wc -l <'$work/err') -eq 1 ]]"
download noslash --cache-dir "$CACHE"; rc=$?
check "not a repo id" bash -c "[[ $rc -eq 1 ]] && grep -q 'look like org/name' '$work/err'"
download org/tiny --cache-dir "$CACHE" --local-dir "$work/x"; rc=$?
check "--cache-dir with --local-dir: exit 2" test $rc -eq 2
download org/tiny nothere.bin --cache-dir "$CACHE"; rc=$?
check "a file the repo lacks" bash -c "[[ $rc -eq 1 ]] && grep -q 'has no file nothere.bin' '$work/err'"

summary 41
