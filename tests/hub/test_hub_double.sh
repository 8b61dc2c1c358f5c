#!/usr/bin/env bash
# Checks hub_double, the loopback Hugging Face Hub and ModelScope double, with curl: the surfaces, the
# CDN rules, the request log and the faults of a scenario.
#   test_hub_double.sh HUB_DOUBLE
set -u
double=$1
command -v curl >/dev/null || { echo "FAIL: test_hub_double.sh needs curl"; exit 1; }
work=$(mktemp -d)
pids=()
cleanup() {
  for pid in "${pids[@]}"; do kill -KILL "$pid" 2>/dev/null; done
  wait
  rm -rf "$work"
}
trap cleanup EXIT
passed=0 failed=0

# check NAME ACTUAL EXPECTED
check() {
  if [[ $2 == "$3" ]]; then
    passed=$((passed + 1))
  else
    failed=$((failed + 1))
    printf 'FAIL %s: got %q, wanted %q\n' "$1" "$2" "$3"
  fi
}

# check_match NAME TEXT REGEX (extended)
check_match() {
  if grep -Eq -- "$3" <<<"$2"; then
    passed=$((passed + 1))
  else
    failed=$((failed + 1))
    printf 'FAIL %s: %q does not match %s\n' "$1" "$2" "$3"
  fi
}

# fetch URL [CURL_ARGS...]: the body goes to $work/body, the headers to $work/headers; prints the status
# (or what a -w in CURL_ARGS asks for: '%{http_code} %{exitcode}' gives curl's exit code too).
fetch() {
  local url=$1
  shift
  curl -s --max-time 10 -o "$work/body" -D "$work/headers" -w '%{http_code}' "$@" "$url"
}
with_rc=(-w '%{http_code} %{exitcode}')

# header NAME: the value of that header in the last fetched response ("" when absent).
header() { tr -d '\r' <"$work/headers" | sed -n "s/^$1: //Ip" | tail -1; }

# json EXPRESSION: evaluates a Python expression over the JSON document `d` read from $work/body.
json() { python3 -c "import json, sys; d = json.load(sys.stdin); print($1)" <"$work/body"; }

sha256() { sha256sum "$1" | cut -d' ' -f1; }
git_sha1() { { printf 'blob %d\0' "$(stat -c %s "$1")"; cat "$1"; } | sha1sum | cut -d' ' -f1; }

# start NAME ARGS...: runs a double and waits for its port file; sets hub and cdn to its ports.
start() {
  local name=$1
  shift
  "$double" --repos "$repos" --port-file "$work/$name.ports" --log "$work/$name.log" "$@" &
  pids+=($!)
  for _ in $(seq 100); do
    [[ -s $work/$name.ports ]] && break
    sleep 0.1
  done
  read -r hub cdn <"$work/$name.ports" || { echo "FAIL: $name did not start"; exit 1; }
}

# Fixtures: a small repo with a nested file and an LFS file, a private, a gated and a renamed repo, a repo
# with a dot in its name, and one with a file per fault.
repos=$work/repos
tiny=$repos/acme/tiny
qwen=$repos/Qwen/Qwen2.5-0.5B
faults=$repos/acme/faults
mkdir -p "$tiny/onnx" "$qwen" "$faults" "$repos/acme/secret" "$repos/acme/gated" "$repos/acme/old"
printf '{"model_type": "qwen2"}\n' >"$tiny/config.json"
head -c 300 /dev/urandom >"$tiny/onnx/x.bin"
head -c 3145728 /dev/urandom >"$tiny/model.safetensors"
printf '{"hidden_size": 896}\n' >"$qwen/config.json"
head -c 2048 /dev/urandom >"$qwen/model.safetensors"
printf 'secret\n' >"$repos/acme/secret/README.md"
printf '{"private": true}\n' >"$repos/acme/secret/.hub.json"
printf 'gated\n' >"$repos/acme/gated/README.md"
printf '{"gated": true}\n' >"$repos/acme/gated/.hub.json"
printf '{"renamed_to": "acme/tiny"}\n' >"$repos/acme/old/.hub.json"
head -c 4096 /dev/urandom >"$work/data.bin"
for name in flip status norange shifted long short stall trickle chain loop nocommit nolength; do
  cp "$work/data.bin" "$faults/$name.bin"
done
seq 1000 >"$faults/gzip.txt"
printf '{"lfs_threshold": 1000000}\n' >"$faults/.hub.json"
commit=$(cd "$tiny" && for f in config.json model.safetensors onnx/x.bin; do echo "$f $(sha256 "$f")"; done | sha1sum | cut -d' ' -f1)
token=hf_valid

start plain --token "$token" --unapproved-token hf_other

# --- Hugging Face: model info, tree pages, refs
check "info status" "$(fetch "http://127.0.0.1:$hub/api/models/acme/tiny")" 200
check "info sha is the default commit" "$(json 'd["sha"]')" "$commit"
check "info siblings" "$(json '" ".join(s["rfilename"] for s in d["siblings"])')" "config.json model.safetensors onnx/x.bin"
fetch "http://127.0.0.1:$hub/api/models/acme/tiny/revision/main?blobs=true" >/dev/null
check "blobs=true lfs.sha256" "$(json '[s["lfs"]["sha256"] for s in d["siblings"] if "lfs" in s]')" "['$(sha256 "$tiny/model.safetensors")']"
check "unknown revision" "$(fetch "http://127.0.0.1:$hub/api/models/acme/tiny/revision/v9") $(header X-Error-Code)" "404 RevisionNotFound"
check "a repo with a dot in its name" "$(fetch "http://127.0.0.1:$hub/api/models/Qwen/Qwen2.5-0.5B")" 200
check "revision is the commit" "$(fetch "http://127.0.0.1:$hub/api/models/acme/tiny/revision/$commit")" 200
fetch "http://127.0.0.1:$hub/api/models/acme/tiny/refs" >/dev/null
check "refs" "$(json 'd["branches"][0]["name"], d["branches"][0]["targetCommit"]')" "main $commit"

url="http://127.0.0.1:$hub/api/models/acme/tiny/tree/main?recursive=true"
pages=0 paths=()
while [[ -n $url && $pages -lt 10 ]]; do
  fetch "$url" >/dev/null
  pages=$((pages + 1))
  paths+=($(json '" ".join(e["path"] for e in d)'))
  [[ $pages -eq 1 ]] && check "tree LFS entry" "$(json '[e["lfs"]["oid"] for e in d if "lfs" in e]')" "['$(sha256 "$tiny/model.safetensors")']"
  url=$(header Link | sed -n 's/^<\(.*\)>; rel="next"$/\1/p')
  [[ -n $url ]] && check_match "the next page's cursor carries the commit" "$url" "^http://127\.0\.0\.1:$hub/api/.*[?&]recursive=true&cursor=$commit-[0-9]+$"
done
check "tree pages" "$pages" 2
check "tree paths" "${paths[*]}" "config.json model.safetensors onnx onnx/x.bin"
fetch "http://127.0.0.1:$hub/api/models/acme/tiny/tree/main/onnx" >/dev/null
check "tree of a folder" "$(json 'd[0]["type"], d[0]["path"], d[0]["oid"]')" "file onnx/x.bin $(git_sha1 "$tiny/onnx/x.bin")"

# --- Hugging Face: resolve
check "regular file: 307" "$(fetch "http://127.0.0.1:$hub/acme/tiny/resolve/main/config.json" -I)" 307
location=$(header Location)
check "307 to resolve-cache, relative, with the etag query" "$location" \
  "/api/resolve-cache/models/acme/tiny/$commit/config.json?etag=%22$(git_sha1 "$tiny/config.json")%22"
check "resolve-cache" "$(fetch "http://127.0.0.1:$hub$location") $(header ETag) $(header X-Repo-Commit)" \
  "200 \"$(git_sha1 "$tiny/config.json")\" $commit"
check "resolve-cache bytes" "$(sha256 "$work/body")" "$(sha256 "$tiny/config.json")"
check "resolve-cache without the query" "$(fetch "http://127.0.0.1:$hub${location%%\?*}")" 400
check "LFS file: 302" "$(fetch "http://127.0.0.1:$hub/acme/tiny/resolve/main/model.safetensors" -I)" 302
cdn_url=$(header Location)
check_match "302 to a signed CDN URL" "$cdn_url" "^http://127\.0\.0\.1:$cdn/lfs/$(sha256 "$tiny/model.safetensors")\?Expires=[0-9]+&Signature=[0-9a-f]{64}$"
check "302 metadata" "$(header X-Linked-Etag) $(header X-Linked-Size) $(header X-Repo-Commit)" \
  "\"$(sha256 "$tiny/model.safetensors")\" 3145728 $commit"
fetch "http://127.0.0.1:$hub/acme/tiny/resolve/main/model.safetensors" >/dev/null
check "the 302's Content-Length is its own body's" "$(header Content-Length)" "$(stat -c %s "$work/body")"
check "unknown file" "$(fetch "http://127.0.0.1:$hub/acme/tiny/resolve/main/nope.txt") $(header X-Error-Code) $(header X-Repo-Commit)" \
  "404 EntryNotFound $commit"
check "renamed repo: relative 307" "$(fetch "http://127.0.0.1:$hub/acme/old/resolve/main/config.json?x=1") $(header Location)" \
  "307 /acme/tiny/resolve/main/config.json?x=1"

# --- CDN: signed URLs, Range, no Authorization
check "CDN GET" "$(fetch "$cdn_url")" 200
check "CDN bytes" "$(sha256 "$work/body")" "$(sha256 "$tiny/model.safetensors")"
check "CDN Accept-Ranges" "$(header Accept-Ranges)" bytes
check "CDN Range" "$(fetch "$cdn_url" -r 100-199) $(header Content-Range) $(stat -c %s "$work/body")" "206 bytes 100-199/3145728 100"
check "CDN Range bytes" "$(sha256 "$work/body")" "$(tail -c +101 "$tiny/model.safetensors" | head -c 100 | sha256sum | cut -d' ' -f1)"
check "CDN Range past the end" "$(fetch "$cdn_url" -r 3145728-) $(header Content-Range)" "416 bytes */3145728"
check "CDN rejects Authorization" "$(fetch "$cdn_url" -H "Authorization: Bearer $token")" 400
check "CDN bad signature" "$(fetch "${cdn_url}0")" 403

# --- Hugging Face: tokens, private, gated and missing repos
check "private, anonymous" "$(fetch "http://127.0.0.1:$hub/api/models/acme/secret") $(header X-Error-Code)" "401 RepoNotFound"
check "private, token" "$(fetch "http://127.0.0.1:$hub/api/models/acme/secret" -H "Authorization: Bearer $token")" 200
check "wrong token" "$(fetch "http://127.0.0.1:$hub/api/models/acme/tiny" -H "Authorization: Bearer nope") $(header X-Error-Message)" \
  "401 Invalid credentials in Authorization header"
check "missing repo, anonymous" "$(fetch "http://127.0.0.1:$hub/api/models/acme/nope")" 401
check "missing repo, token" "$(fetch "http://127.0.0.1:$hub/api/models/acme/nope" -H "Authorization: Bearer $token") $(header X-Error-Code)" \
  "404 RepoNotFound"
check "gated info is public" "$(fetch "http://127.0.0.1:$hub/api/models/acme/gated")" 200
gated_file=http://127.0.0.1:$hub/acme/gated/resolve/main/README.md
check "gated file, anonymous" "$(fetch "$gated_file") $(header X-Error-Code)" "401 GatedRepo"
check "gated file, unapproved user" "$(fetch "$gated_file" -H "Authorization: Bearer hf_other") $(header X-Error-Code)" "403 GatedRepo"
check "gated file, token" "$(fetch "$gated_file" -H "Authorization: Bearer $token" -L)" 200

# --- ModelScope
ms=http://127.0.0.1:$hub/api/v1/models
check "ModelScope info" "$(fetch "$ms/Qwen/Qwen2.5-0.5B") $(json 'd["Code"], d["Data"]["Name"]')" "200 200 Qwen2.5-0.5B"
fetch "$ms/Qwen/Qwen2.5-0.5B/revisions" >/dev/null
check "ModelScope revisions" "$(json 'd["Data"]["RevisionMap"]["Branches"][0]["Revision"]')" master
fetch "$ms/Qwen/Qwen2.5-0.5B/repo/files?Revision=master&Recursive=True" >/dev/null
check "ModelScope files" "$(json '" ".join(f["Path"] + ":" + f["Type"] for f in d["Data"]["Files"])')" \
  ".gitattributes:blob config.json:blob model.safetensors:blob"
check "ModelScope Sha256" "$(json '[f["Sha256"] for f in d["Data"]["Files"] if f["Path"] == "config.json"][0]')" "$(sha256 "$qwen/config.json")"
fetch "$ms/acme/tiny/repo/files?Revision=master&Recursive=true" >/dev/null
check "ModelScope folders" "$(json '[f["Path"] for f in d["Data"]["Files"] if f["Type"] == "tree"]')" "['onnx']"
check "ModelScope file" "$(fetch "$ms/Qwen/Qwen2.5-0.5B/repo?Revision=master&FilePath=config.json") $(sha256 "$work/body")" \
  "200 $(sha256 "$qwen/config.json")"
check "ModelScope nested file" "$(fetch "$ms/acme/tiny/repo?FilePath=onnx%2Fx.bin") $(sha256 "$work/body")" \
  "200 $(sha256 "$tiny/onnx/x.bin")"
check "ModelScope Range" "$(fetch "$ms/Qwen/Qwen2.5-0.5B/repo?Revision=master&FilePath=config.json" -r 2-5) $(header Content-Range)" \
  "206 bytes 2-5/21"
check "ModelScope large file: 302 to the CDN" "$(fetch "$ms/Qwen/Qwen2.5-0.5B/repo?Revision=master&FilePath=model.safetensors")" 302
check_match "ModelScope redirect target" "$(header Location)" "^http://127\.0\.0\.1:$cdn/lfs/"
check "ModelScope large file bytes" "$(fetch "$ms/Qwen/Qwen2.5-0.5B/repo?FilePath=model.safetensors" -L) $(sha256 "$work/body")" \
  "200 $(sha256 "$qwen/model.safetensors")"
check "ModelScope unknown revision" "$(fetch "$ms/Qwen/Qwen2.5-0.5B/repo/files?Revision=v9") $(json 'd["Code"], d["Success"]')" \
  "200 10010101 False"
check "ModelScope unknown repo" "$(fetch "$ms/Qwen/nope")" 404
check "ModelScope private, anonymous" "$(fetch "$ms/acme/secret")" 403
check "ModelScope private, cookie" "$(fetch "$ms/acme/secret" -b "m_session_id=$token")" 200

# --- The request log
log=$(cat "$work/plain.log")
check_match "log: a Range request" "$log" '^\{"server":"cdn","method":"GET","path":"/lfs/[0-9a-f]+","query":"Expires=[0-9]+&Signature=[0-9a-f]+","range":"bytes=100-199","authorization":false,"status":206,"fault":null\}$'
check_match "log: Authorization sent to the CDN" "$log" '"server":"cdn",.*"authorization":true,"status":400,'
check_match "log: HEAD" "$log" '"method":"HEAD","path":"/acme/tiny/resolve/main/config.json","query":"","range":null,"authorization":false,"status":307'

# --- Faults
cat >"$work/scenario.json" <<'EOF'
[
  {"match": {"server": "cdn", "path": "^/lfs/"}, "fault": {"type": "drop_after", "bytes": 1000}},
  {"match": {"server": "cdn"}, "fault": {"type": "expire_url"}},
  {"match": {"method": "HEAD", "path": "/resolve/main/config\\.json$"}, "fault": {"type": "rate_limit", "seconds": 3}},
  {"match": {"path": "/resolve/main/onnx/x\\.bin$"}, "fault": {"type": "rate_limit", "seconds": 4, "style": "retry_after"}},
  {"match": {"server": "hub", "path": "Qwen2\\.5-0\\.5B/resolve/main/config\\.json$"},
   "fault": {"type": "rate_limit", "seconds": 60, "style": "retry_after_date"}},
  {"match": {"path": "/flip\\.bin$"}, "times": -1, "fault": {"type": "flip_byte", "offset": 5}},
  {"match": {"path": "/status\\.bin$"}, "times": 2,
   "fault": {"type": "status", "code": 503, "headers": {"Retry-After": "1"}, "body": "busy"}},
  {"match": {"path": "/norange\\.bin$"}, "fault": {"type": "ignore_range"}},
  {"match": {"path": "/shifted\\.bin$"}, "fault": {"type": "wrong_content_range"}},
  {"match": {"path": "/long\\.bin$"}, "fault": {"type": "content_length", "delta": 10}},
  {"match": {"path": "/short\\.bin$"}, "fault": {"type": "content_length", "delta": -10}},
  {"match": {"path": "/stall\\.bin$"}, "times": -1, "fault": {"type": "stall", "seconds": 60, "after_bytes": 100}},
  {"match": {"path": "/trickle\\.bin$"}, "fault": {"type": "trickle", "bytes_per_second": 8192}},
  {"match": {"path": "/chain\\.bin$"}, "fault": {"type": "redirect_chain", "hops": 3, "relative": false}},
  {"match": {"path": "/loop\\.bin$"}, "fault": {"type": "redirect_loop"}},
  {"match": {"path": "/nocommit\\.bin$"}, "fault": {"type": "drop_header", "name": "X-Repo-Commit"}},
  {"match": {"path": "/nolength\\.bin$"}, "fault": {"type": "drop_header", "name": "content-length"}},
  {"match": {"path": "/gzip\\.txt$"}, "fault": {"type": "gzip"}}
]
EOF
start faults --scenario "$work/scenario.json"
fault_file() { echo "http://127.0.0.1:$hub/api/resolve-cache/models/acme/faults/main/$1?etag=x"; }

fetch "http://127.0.0.1:$hub/acme/tiny/resolve/main/model.safetensors" -I >/dev/null
cdn_url=$(header Location)
check "drop_after: headers, then a closed connection" "$(fetch "$cdn_url" "${with_rc[@]}") $(header Content-Length) $(stat -c %s "$work/body")" "200 18 3145728 1000"
check "expire_url" "$(fetch "$cdn_url")" 403
check "faults used up" "$(fetch "$cdn_url") $(sha256 "$work/body")" "200 $(sha256 "$tiny/model.safetensors")"
check "rate_limit" "$(fetch "http://127.0.0.1:$hub/acme/tiny/resolve/main/config.json" -I) $(header RateLimit)" '429 "resolvers";r=0;t=3'
check "rate_limit policy" "$(header RateLimit-Policy)" '"fixed window";"resolvers";q=5000;w=300'
check "rate_limit once" "$(fetch "http://127.0.0.1:$hub/acme/tiny/resolve/main/config.json" -I)" 307
check "rate_limit retry_after" "$(fetch "http://127.0.0.1:$hub/acme/tiny/resolve/main/onnx/x.bin") $(header Retry-After)" "429 4"
check "rate_limit retry_after_date" "$(fetch "http://127.0.0.1:$hub/Qwen/Qwen2.5-0.5B/resolve/main/config.json")" 429
retry_at=$(date -d "$(header Retry-After)" +%s)
check_match "Retry-After is an HTTP date a minute ahead" "$(header Retry-After) $((retry_at - $(date +%s)))" \
  '^[A-Z][a-z]{2}, [0-9]{2} [A-Z][a-z]{2} [0-9]{4} [0-9]{2}:[0-9]{2}:[0-9]{2} GMT (5[89]|60)$'
check "flip_byte: right length" "$(fetch "$(fault_file flip.bin)") $(stat -c %s "$work/body")" "200 4096"
check "flip_byte: only byte 6 differs" "$(cmp -l "$work/body" "$work/data.bin" | awk '{print $1}')" 6
check "flip_byte: sha256 differs" "$([[ $(sha256 "$work/body") != "$(sha256 "$work/data.bin")" ]] && echo yes)" yes
# byte NUMBER FILE: that byte (counted from 0) in decimal
byte() { od -An -tu1 -j"$1" -N1 "$2" | tr -d ' '; }
check "flip_byte in a range: file offset 5 is body offset 1" \
  "$(fetch "$(fault_file flip.bin)" -r 4-7) $(($(byte 1 "$work/body") ^ 255))" "206 $(byte 5 "$work/data.bin")"
check "flip_byte in a range: the other bytes" "$(byte 2 "$work/body")" "$(byte 6 "$work/data.bin")"
check "status 503" "$(fetch "$(fault_file status.bin)") $(header Retry-After) $(cat "$work/body")" "503 1 busy"
check "status twice" "$(fetch "$(fault_file status.bin)")" 503
check "status then the file" "$(fetch "$(fault_file status.bin)")" 200
check "ignore_range" "$(fetch "$(fault_file norange.bin)" -r 10-19) $(stat -c %s "$work/body")" "200 4096"
check "wrong_content_range" "$(fetch "$(fault_file shifted.bin)" -r 10-19) $(header Content-Range)" "206 bytes 11-20/4096"
check "wrong_content_range bytes" "$(sha256 "$work/body")" "$(tail -c +12 "$work/data.bin" | head -c 10 | sha256sum | cut -d' ' -f1)"
check "content_length +10" "$(fetch "$(fault_file long.bin)" "${with_rc[@]}") $(header Content-Length) $(stat -c %s "$work/body")" "200 18 4106 4096"
check "content_length -10" "$(fetch "$(fault_file short.bin)" "${with_rc[@]}") $(header Content-Length) $(stat -c %s "$work/body")" "200 0 4086 4086"
start_time=$(date +%s%N)
check "stall" "$(fetch "$(fault_file stall.bin)" --max-time 1 "${with_rc[@]}") $(stat -c %s "$work/body")" "200 28 100"
fetch "$(fault_file trickle.bin)" >/dev/null
elapsed_ms=$((($(date +%s%N) - start_time) / 1000000))
check "trickle: intact" "$(sha256 "$work/body")" "$(sha256 "$work/data.bin")"
check_match "stall and trickle take their time" "$elapsed_ms" '^(1[4-9]|[2-4][0-9])[0-9]{2}$'
check "redirect_chain" "$(fetch "$(fault_file chain.bin)" -L -w '%{http_code} %{num_redirects}') $(sha256 "$work/body")" \
  "200 3 $(sha256 "$work/data.bin")"
check "redirect_loop" "$(fetch "$(fault_file loop.bin)" -L --max-redirs 5 "${with_rc[@]}")" "307 47"
check "drop_header X-Repo-Commit" "$(fetch "$(fault_file nocommit.bin)") [$(header X-Repo-Commit)] $(header ETag)" \
  "200 [] \"$(git_sha1 "$work/data.bin")\""
check "drop_header Content-Length" "$(fetch "$(fault_file nolength.bin)") [$(header Content-Length)] $(sha256 "$work/body")" \
  "200 [] $(sha256 "$work/data.bin")"
check "gzip" "$(fetch "$(fault_file gzip.txt)") $(header Content-Encoding) [$(header Content-Length)] $(gunzip <"$work/body" | sha256sum | cut -d' ' -f1)" \
  "200 gzip [] $(sha256 "$faults/gzip.txt")"

log=$(cat "$work/faults.log")
check_match "log: the fault" "$log" '"server":"cdn",.*"status":200,"fault":"drop_after"\}'
check_match "log: the hops" "$log" '"path":"/hop/3/3/abs/api/resolve-cache/models/acme/faults/main/chain.bin","query":"etag=x",.*"status":200,"fault":null'

# --- Command line, and a clean stop on SIGTERM (with a stalled answer still open)
printf '[{"fault": {"type": "explode"}}]\n' >"$work/bad.json"
out=$("$double" --repos "$repos" --scenario "$work/bad.json" 2>&1)
check "bad scenario" "$? $out" '1 hub_double: scenario rule 0: unknown fault type "explode"'
out=$("$double" 2>&1)
check "no --repos" "$? ${out%%$'\n'*}" "2 hub_double: --repos is required"
fetch "$(fault_file stall.bin)" --max-time 1 >/dev/null &
sleep 0.3
for pid in "${pids[@]}"; do kill -TERM "$pid"; done
for pid in "${pids[@]}"; do
  timeout 10 tail --pid="$pid" -f /dev/null || kill -KILL "$pid"
  wait "$pid"
  check "exits 0 on SIGTERM" "$?" 0
done
pids=()

echo "hub_double: $passed passed, $failed failed"
[[ $failed -eq 0 ]]
