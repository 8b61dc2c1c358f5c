#!/usr/bin/env bash
# One call on the GPU machine for the engine's speed: the GPU tests, then the benchmarks of
# docs/benchmarks.md (Qwen2.5-7B shape, dummy bf16 weights), each run plainly and with --profile (the
# GPU time of each kind of operation). Logs go to $OUT/bench.tar.gz; a summary is printed last.
#   here:  ../shared/tools/gpu-bundle build && cp -L /usr/lib/x86_64-linux-gnu/libgomp.so.1 .gpu/lib/
#   there: bash tests/gpu/bench_on_gpu_machine.sh [tests|memcheck|linear|bench|eager|profile]...   (device tool: carry [".gpu"])
set -uo pipefail
source .gpu/env.sh
export LLMCTL_SOURCE_DIR=$PWD LLMCTL_LOG_LEVEL=warning
out=${OUT:-/tmp/out}
logs=$(mktemp -d)
parts=("${@:-tests bench profile}")
parts=" ${parts[*]} "
status=0
model=tests/fixtures/configs/Qwen--Qwen2.5-7B-Instruct
bench() { llmctl-bench "$model" --load-format dummy "$@"; }
step() {  # step NAME COMMAND...: output to $logs/NAME.log, its last lines to the summary
  local name=$1; shift
  echo "== $name: $*"
  "$@" >"$logs/$name.log" 2>&1 || { echo "FAILED ($?): $name"; status=1; }
  grep -E "^(Throughput|Avg latency|Roofline|GPU time|all passed|FAILED)" "$logs/$name.log" | head -12
  grep -E "^FAIL" "$logs/$name.log" | head -20
}

nvidia-smi --query-gpu=name,driver_version,memory.total,clocks.sm,clocks.max.sm --format=csv,noheader
if [[ $parts == *" tests "* ]]; then
  step gpu_engine gpu_engine_test
  step gpu_attention gpu_attention_test
  step gpu_skinny_gemm gpu_skinny_gemm_test
  step gpu_sampling gpu_sampling_test
  step gpu_runtime gpu_runtime_test
fi
if [[ $parts == *" memcheck "* ]]; then
  step memcheck-attention compute-sanitizer --tool memcheck --error-exitcode 1 gpu_attention_test
  step memcheck-engine compute-sanitizer --tool memcheck --error-exitcode 1 gpu_engine_test
  step memcheck-skinny-gemm compute-sanitizer --tool memcheck --error-exitcode 1 gpu_skinny_gemm_test
  step memcheck-sampling compute-sanitizer --tool memcheck --error-exitcode 1 gpu_sampling_test
  grep -h "ERROR SUMMARY" "$logs"/memcheck-*.log
fi
if [[ $parts == *" linear "* ]]; then
  step linear bench_linear
  cat "$logs/linear.log"
fi
workloads=(
  "single --latency --batch-size 1 --input-len 128 --output-len 512 --num-iters-warmup 2 --num-iters 3"
  "long --input-len 4096 --output-len 256 --num-prompts 50"
  "many --input-len 256 --output-len 1024 --num-prompts 256"
)
for w in "${workloads[@]}"; do
  name=${w%% *}; args=${w#* }
  [[ $parts == *" bench "* ]] && step "$name" bench $args
  [[ $parts == *" eager "* ]] && step "$name-eager" bench $args --enforce-eager
  if [[ $parts == *" profile "* ]]; then
    step "$name-profile" bench $args --profile
    sed -n '/^GPU time/,$p' "$logs/$name-profile.log"
  fi
done
tar -czf "$out/bench.tar.gz" -C "$logs" .
exit $status
