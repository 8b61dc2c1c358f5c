#!/usr/bin/env bash
# Loopback download throughput: llmctl download against the hub double (tests/hub), beside a
# single-connection curl of the same bytes through the same redirects, for one large file and for
# many small files. Files are written under WORK (use a real disk or tmpfs, and say which).
#   bench_download.sh BIN_DIR HUB_DOUBLE WORK [SIZE_MIB (2048)] [SMALL_FILES (200)]
set -euo pipefail
bin=$1 double=$2 work=$3 size_mib=${4:-2048} small=${5:-200}
mkdir -p "$work/repos/bench/big" "$work/repos/bench/small"
trap 'kill $server 2>/dev/null; rm -rf "$work/cache-"* "$work/curl"' EXIT
[[ -f $work/repos/bench/big/model.safetensors ]] || head -c $((size_mib << 20)) /dev/urandom >"$work/repos/bench/big/model.safetensors"
for i in $(seq 1 "$small"); do
  [[ -f $work/repos/bench/small/file$i.json ]] || head -c 65536 /dev/urandom | base64 >"$work/repos/bench/small/file$i.json"
done
rm -f "$work/ports"
"$double" --repos "$work/repos" --page-size 1000 --port-file "$work/ports" >/dev/null 2>&1 &
server=$!
# the double hashes its files before it listens: a few seconds for 2 GiB
for _ in $(seq 1200); do [[ -s $work/ports ]] && break; sleep 0.05; done
read -r hub _ <"$work/ports"
seconds() { local start end; start=$(date +%s.%N); "$@" >/dev/null; end=$(date +%s.%N); python3 -c "print(f'{$end - $start:.2f}')"; }
rate() { python3 -c "print(f'{$1 / 1048576 / $2:.1f}')"; }
per_second() { python3 -c "print(f'{$1 / $2:.0f}')"; }

big_bytes=$(stat -c %s "$work/repos/bench/big/model.safetensors")
small_bytes=$(du -cb "$work"/repos/bench/small/* | tail -1 | cut -f1)
sync
t=$(seconds env HF_ENDPOINT=http://127.0.0.1:$hub "$bin/llmctl-download" bench/big --cache-dir "$work/cache-big" --quiet)
echo "one $(rate "$big_bytes" 1) MiB file: llmctl download $t s, $(rate "$big_bytes" "$t") MiB/s (verified, 8 connections)"
mkdir -p "$work/curl"
t=$(seconds curl -sfL -o "$work/curl/big" "http://127.0.0.1:$hub/bench/big/resolve/main/model.safetensors")
echo "one file: curl, one connection $t s, $(rate "$big_bytes" "$t") MiB/s (not verified)"
t=$(seconds env HF_ENDPOINT=http://127.0.0.1:$hub "$bin/llmctl-download" bench/small --cache-dir "$work/cache-small" --quiet)
echo "$small small files ($(rate "$small_bytes" 1) MiB): llmctl download $t s, $(rate "$small_bytes" "$t") MiB/s, $(per_second "$small" "$t") files/s"
urls=()
for i in $(seq 1 "$small"); do urls+=(-o "$work/curl/file$i.json" "http://127.0.0.1:$hub/bench/small/resolve/main/file$i.json"); done
t=$(seconds curl -sfL "${urls[@]}")
echo "$small small files: curl, one connection reused $t s, $(rate "$small_bytes" "$t") MiB/s, $(per_second "$small" "$t") files/s"
