#!/usr/bin/env bash
# One call on the GPU machine for llmctl serve: the server tests against the CUDA backend, engines
# sharing the GPU and mem-estimate against a real allocation, then the online benchmark (llmctl bench
# serve, as vllm bench serve) of the Qwen2.5-7B shape with dummy bf16 weights. Logs go to
# $OUT/serve.tar.gz; a summary is printed last.
#   here:  ../shared/tools/gpu-bundle build && tests/gpu/bundle_extras.sh --serve
#   there: bash tests/gpu/serve_on_gpu_machine.sh [tests] [memory] [bench]   (device tool: carry [".gpu"])
set -uo pipefail
source .gpu/env.sh
# Node.js (the SDK's runtime), the SDK and a real tokenizer travel compressed.
xz -dc .gpu/node.xz > .gpu/bin/node && chmod +x .gpu/bin/node
tar -xJf .gpu/openai-sdk.tar.xz -C .gpu
tar -xJf .gpu/qwen2_5.tar.xz -C .gpu
export LLMCTL_LOG_LEVEL=info
out=${OUT:-/tmp/out}
logs=$(mktemp -d)
parts=" ${*:-tests memory bench} "
status=0
nvidia-smi --query-gpu=name,driver_version,memory.total --format=csv,noheader
for tool in node curl python3 promtool; do printf '%s: %s\n' "$tool" "$(command -v $tool || echo missing)"; done

if [[ $parts == *" tests "* ]]; then
  echo "== sampling kernel"
  gpu_sampling_test || status=1
  echo "== server tests, --device cuda"
  # Up to three servers share the GPU at once: each asks for 0.3 of it, as three vLLMs would.
  LLMCTL_SERVE_ARGS="--device cuda --gpu-memory-utilization 0.3" PROMTOOL_OPTIONAL=1 bash tests/integration/serve/test_serve.sh .gpu/bin "$PWD" .gpu/openai-sdk \
    >"$logs/serve-tests.log" 2>&1 || status=1
  tail -25 "$logs/serve-tests.log"
fi

if [[ $parts == *" memory "* ]]; then
  echo "== two servers of the demo model share the GPU at 0.45 each; a third is refused"
  for name in a b c; do
    llmctl-serve --device cuda --gpu-memory-utilization 0.45 --port 0 --disable-log-stats >"$logs/share-$name.log" 2>&1 &
    for _ in $(seq 300); do grep -qE "startup complete|rror" "$logs/share-$name.log" && break; sleep 0.1; done
    grep -E "Available KV cache memory|startup complete|rror" "$logs/share-$name.log" | sed "s/^/$name: /"
  done
  grep -q "startup complete" "$logs/share-a.log" && grep -q "startup complete" "$logs/share-b.log" &&
    grep -q "Free memory on device .* is less than desired GPU memory utilization (0.45" "$logs/share-c.log" ||
    { echo "FAILED: sharing the GPU"; status=1; }
  pkill -TERM -f "llmctl-serve --device cuda --gpu-memory-utilization 0.45"; wait
  echo "== mem-estimate against the engine, Qwen2.5-7B shape, dummy weights, vLLM's defaults"
  model=tests/fixtures/configs/Qwen--Qwen2.5-7B-Instruct
  llmctl-mem-estimate "$model" | grep -E "^GPU:|^  (weights|KV cache)"
  LLMCTL_LOG_LEVEL=debug llmctl-bench "$model" --load-format dummy --device cuda --input-len 16 --output-len 4 --num-prompts 4 2>&1 |
    grep -E "Model loading took|Activation buffers|Available KV cache memory|GPU KV cache size" || status=1
fi

if [[ $parts == *" bench "* ]]; then
  model=tests/fixtures/configs/Qwen--Qwen2.5-7B-Instruct
  start=$(date +%s.%N)
  llmctl-serve "$model" --load-format dummy --device cuda --port 8000 --disable-log-requests >"$logs/server.log" 2>&1 &
  server=$!
  for _ in $(seq 600); do grep -q "Application startup complete" "$logs/server.log" && break; sleep 0.1; done
  echo "server ready after $(python3 -c "print(f'{$(date +%s.%N) - $start:.1f}')") s (process start to Application startup complete)"
  grep -E "Model loading took|KV cache|concurrency|startup complete" "$logs/server.log"
  run() {  # run NAME FLAGS...: one llmctl bench serve
    local name=$1; shift
    echo "== $name: llmctl bench serve $*"
    # Dummy weights come without a tokenizer; the bench draws its random prompts from Qwen2.5's.
    llmctl-bench serve --base-url http://127.0.0.1:8000 --tokenizer .gpu/qwen2_5 "$@" --save-result --result-dir "$logs" \
      --result-filename "$name.json" >"$logs/$name.log" 2>&1 || { echo "FAILED: $name"; status=1; }
    sed -n '/Serving Benchmark Result/,/^=\+$/p' "$logs/$name.log" | tail -n +2
  }
  run warmup --num-prompts 16 --random-input-len 128 --random-output-len 16
  run single --num-prompts 8 --random-input-len 128 --random-output-len 512 --max-concurrency 1
  run c16 --num-prompts 200 --random-input-len 1024 --random-output-len 128 --max-concurrency 16
  run c64 --num-prompts 500 --random-input-len 1024 --random-output-len 128 --max-concurrency 64
  run burst --num-prompts 1000 --random-input-len 1024 --random-output-len 128
  grep -E "Avg prompt throughput" "$logs/server.log" | tail -3
  kill -TERM "$server"; wait "$server" || { echo "server exit $?"; status=1; }
fi
tar -czf "$out/serve.tar.gz" -C "$logs" .
exit $status
