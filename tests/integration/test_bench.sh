#!/usr/bin/env bash
# llmctl bench on the CPU backend with a tiny reference model: vLLM's output lines and JSON keys, dummy
# weights from config.json alone, and bad input.
#   test_bench.sh BIN_DIR SOURCE_DIR
set -u
bin=$1 src=$2
model=$src/tests/fixtures/generation/qwen3
source "$(dirname "${BASH_SOURCE[0]}")/checks.sh"
export LLMCTL_LOG_LEVEL=warning
cpu=(--device cpu)

if "$bin/llmctl" bench "$model" "${cpu[@]}" --input-len 16 --output-len 4 --num-prompts 5 --output-json "$work/t.json" >"$work/out" 2>"$work/err" &&
   grep -Eq '^Throughput: [0-9.]+ requests/s, [0-9.]+ total tokens/s, [0-9.]+ output tokens/s$' "$work/out" &&
   grep -q '^Total num output tokens:  20$' "$work/out" &&
   python3 -c "import json; d=json.load(open('$work/t.json')); assert d['num_requests'] == 5 and d['total_num_tokens'] == 100 and d['elapsed_time'] > 0, d"; then
  pass; else fail "throughput: $(cat "$work/out" "$work/err")"; fi
if "$bin/llmctl-bench" "$model" "${cpu[@]}" --latency --batch-size 2 --output-len 3 --num-iters 3 --num-iters-warmup 1 \
     --output-json "$work/l.json" >"$work/out" 2>"$work/err" &&
   grep -Eq '^Avg latency: [0-9.e-]+ seconds$' "$work/out" && grep -Eq '^99% percentile latency: ' "$work/out" &&
   python3 -c "import json; d=json.load(open('$work/l.json')); assert len(d['latencies']) == 3 and '50' in d['percentiles'], d"; then
  pass; else fail "latency: $(cat "$work/out" "$work/err")"; fi
mkdir "$work/config-only" && cp "$model/config.json" "$work/config-only/"
"$bin/llmctl-bench" "$work/config-only" "${cpu[@]}" --load-format dummy --input-len 8 --output-len 2 --num-prompts 2 >"$work/out" 2>"$work/err" \
  && grep -q '^Throughput' "$work/out" && pass || fail "dummy weights from config.json alone: $(cat "$work/err")"
"$bin/llmctl-bench" "$work/config-only" "${cpu[@]}" --num-prompts 2 >"$work/out" 2>"$work/err"
[[ $? -eq 1 ]] && grep -q 'no weights found' "$work/err" && pass || fail "no weights without --load-format dummy: $(cat "$work/err")"
"$bin/llmctl-bench" "$model" "${cpu[@]}" --random-range-ratio 1.5 >"$work/out" 2>"$work/err"
[[ $? -eq 1 ]] && grep -q 'random-range-ratio' "$work/err" && pass || fail "bad range ratio: $(cat "$work/err")"
"$bin/llmctl-bench" "${cpu[@]}" >"$work/out" 2>"$work/err"
[[ $? -eq 1 ]] && grep -q 'no model' "$work/err" && pass || fail "no model: $(cat "$work/err")"
"$bin/llmctl-bench" "$model" "${cpu[@]}" --profile --num-prompts 2 >"$work/out" 2>"$work/err"
[[ $? -eq 1 ]] && grep -q 'profiling needs the CUDA backend' "$work/err" && pass || fail "--profile on the CPU: $(cat "$work/err")"
"$bin/llmctl-bench" "$model" "${cpu[@]}" --enforce-eager --rope-theta 20000 --input-len 8 --output-len 2 --num-prompts 2 >"$work/out" 2>"$work/err" \
  && grep -q '^Throughput' "$work/out" && pass || fail "engine flags shared with generate: $(cat "$work/err")"
"$bin/llmctl-bench" "$model" --dataset-name sharegpt >"$work/out" 2>"$work/err"
[[ $? -eq 2 ]] && pass || fail "unknown dataset: $(cat "$work/err")"

summary
