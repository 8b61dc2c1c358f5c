#!/usr/bin/env bash
# llmctl bench on the CPU backend with the demo model: vLLM's output lines and JSON keys, dummy weights
# from config.json alone, and bad input; then `llmctl bench serve` against llmctl-serve.
#   test_bench.sh BIN_DIR SOURCE_DIR
set -u
bin=$1 src=$2
model=$bin/../share/llmctl/llmctl-demo
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
"$bin/llmctl-bench" --model '' "${cpu[@]}" >"$work/out" 2>"$work/err"
[[ $? -eq 1 ]] && grep -q 'no model' "$work/err" && pass || fail "empty model: $(cat "$work/err")"
"$bin/llmctl-bench" "$model" "${cpu[@]}" --profile --num-prompts 2 >"$work/out" 2>"$work/err"
[[ $? -eq 1 ]] && grep -q 'profiling needs the CUDA backend' "$work/err" && pass || fail "--profile on the CPU: $(cat "$work/err")"
"$bin/llmctl-bench" "$model" "${cpu[@]}" --enforce-eager --rope-theta 20000 --input-len 8 --output-len 2 --num-prompts 2 >"$work/out" 2>"$work/err" \
  && grep -q '^Throughput' "$work/out" && pass || fail "engine flags shared with generate: $(cat "$work/err")"
"$bin/llmctl-bench" "$model" --dataset-name sharegpt >"$work/out" 2>"$work/err"
[[ $? -eq 2 ]] && pass || fail "unknown dataset: $(cat "$work/err")"

# llmctl bench serve against llmctl-serve on the same model, on a free port.
if ! start_server "$work/serve.log" "$bin/llmctl-serve" "$model" "${cpu[@]}" --disable-log-requests --disable-log-stats; then
  fail "llmctl-serve did not start: $(tail -5 "$work/serve.log")"
  summary; exit
fi
url=http://127.0.0.1:$server_port
short=(--num-prompts 20 --random-input-len 16 --random-output-len 8)

# row LABEL VALUE: vLLM's "{:<40} {:<10}" line of the result block in $work/out.
row() { grep -Eq "^$(printf '%-40s' "$1" | sed 's/[()]/\\&/g') $2 *\$" "$work/out"; }
if "$bin/llmctl" bench serve --base-url "$url" "${short[@]}" --save-result --save-detailed --result-dir "$work/results" \
     --result-filename detailed.json >"$work/out" 2>"$work/err" &&
   grep -q '^============ Serving Benchmark Result ============$' "$work/out" &&
   row 'Successful requests:' 20 && row 'Failed requests:' 0 && row 'Total input tokens:' 320 &&
   row 'Total generated tokens:' 160 && row 'Benchmark duration (s):' '[0-9]+\.[0-9]{2}' &&
   row 'Request throughput (req/s):' '[0-9]+\.[0-9]{2}' && row 'Output token throughput (tok/s):' '[0-9]+\.[0-9]{2}' &&
   row 'Peak output token throughput (tok/s):' '[0-9]+\.00' && row 'Peak concurrent requests:' '[0-9]+\.00' &&
   row 'Total token throughput (tok/s):' '[0-9]+\.[0-9]{2}' &&
   grep -q '^---------------Time to First Token----------------$' "$work/out" &&
   grep -q '^-----Time per Output Token (excl. 1st token)------$' "$work/out" &&
   grep -q '^---------------Inter-token Latency----------------$' "$work/out" &&
   row 'Mean TTFT (ms):' '[0-9]+\.[0-9]{2}' && row 'Median TPOT (ms):' '[0-9]+\.[0-9]{2}' && row 'P99 ITL (ms):' '[0-9]+\.[0-9]{2}' &&
   [[ $(tail -1 "$work/out") == "$(printf '=%.0s' {1..50})" ]] && grep -q '^Maximum request concurrency: None$' "$work/out" &&
   ! grep -Eq '^Maximum request concurrency: +[0-9]' "$work/out" &&
   python3 -c "
import json
d = json.load(open('$work/results/detailed.json'))
assert d['completed'] == 20 and d['failed'] == 0 and d['total_input_tokens'] == 320 and d['total_output_tokens'] == 160, d
assert d['backend'] == 'openai' and d['model_id'] == '$model' and d['request_rate'] == 'inf' and d['max_concurrency'] is None
assert d['input_lens'] == [16] * 20 and d['output_lens'] == [8] * 20 and d['errors'] == [''] * 20
# One gap per chunk after the first: fewer than 7 when the server sends several tokens in a chunk.
assert all(len(i) <= 7 for i in d['itls']) and len(d['ttfts']) == 20 and len(d['latencies']) == 20
assert all(0 < t < l for t, l in zip(d['ttfts'], d['latencies'])) and all(len(t) > 0 for t in d['generated_texts'])
assert d['max_concurrent_requests'] >= 1 and d['duration'] > 0 and d['request_goodput'] is None
for m in ('ttft', 'tpot', 'itl'):
    assert d[f'median_{m}_ms'] > 0 and d[f'p99_{m}_ms'] >= d[f'median_{m}_ms'] and d[f'std_{m}_ms'] >= 0 and f'mean_{m}_ms' in d
assert 'mean_e2el_ms' not in d
"; then pass; else fail "bench serve: $(cat "$work/out" "$work/err" | tail -30)"; fi

# vLLM's default file name, and without --save-detailed no per-request lists but the latencies.
if "$bin/llmctl-bench" serve --port "$server_port" --num-prompts 3 --random-input-len 8 --random-output-len 2 --save-result \
     --result-dir "$work/named" --metadata run=7 >"$work/out" 2>"$work/err" &&
   files=("$work"/named/openai-infqps-llmctl-demo-*.json) && [[ ${#files[@]} -eq 1 && -f ${files[0]} ]] &&
   python3 -c "
import json
d = json.load(open('${files[0]}'))
assert d['completed'] == 3 and d['run'] == '7' and len(d['latencies']) == 3, d
assert not any(k in d for k in ('ttfts', 'itls', 'input_lens', 'output_lens', 'generated_texts', 'errors')), list(d)
"; then pass; else fail "bench serve result file: $(ls "$work/named" 2>&1) $(tail -5 "$work/err")"; fi

# The chat API, at a request rate, two at a time, after warm-ups; the server counts the prompt tokens.
if "$bin/llmctl" bench serve --base-url "$url" --backend openai-chat --endpoint /v1/chat/completions --num-prompts 4 \
     --random-input-len 16 --random-output-len 4 --request-rate 50 --burstiness 2 --max-concurrency 2 --num-warmups 2 \
     --percentile-metrics ttft,e2el,client_queue_time --metric-percentiles 50,90 --temperature 0 \
     --goodput e2el:60000 >"$work/out" 2>"$work/err" &&
   row 'Successful requests:' 4 && row 'Total generated tokens:' 16 && row 'Maximum request concurrency:' 2 &&
   row 'Request rate configured (RPS):' 50.00 && row 'Request goodput (req/s):' '[0-9]+\.[0-9]{2}' &&
   row 'Peak concurrent requests:' '(1|2)\.00' && grep -q '^Burstiness factor: 2.0 (Gamma distribution)$' "$work/out" &&
   grep -q '^Warmup run completed.$' "$work/out" && grep -q '^----------------End-to-end Latency----------------$' "$work/out" &&
   grep -q '^---------------Client-side Queueing---------------$' "$work/out" && row 'P90 E2EL (ms):' '[0-9.]+' &&
   ! grep -q 'Inter-token Latency' "$work/out" && ! grep -q 'WARNING' "$work/out" &&
   [[ $(awk '/^Total input tokens:/ {print $4}' "$work/out") -gt 16 ]]; then
  pass; else fail "bench serve chat: $(cat "$work/out" "$work/err" | tail -30)"; fi

# Every request failing (an unknown model): listed, then exit 1.
"$bin/llmctl-bench" serve --base-url "$url" --model no-such-model --tokenizer "$model" --num-prompts 3 \
  --random-input-len 8 --random-output-len 2 >"$work/out" 2>"$work/err"
[[ $? -eq 1 ]] && row 'Failed requests:' 3 && grep -q '^Error 0: HTTP 404: .*no-such-model' "$work/out" &&
  grep -q 'all 3 requests failed' "$work/err" && pass || fail "bench serve, unknown model: $(cat "$work/out" "$work/err" | tail -8)"
# An unreachable server: one line, exit 1.
"$bin/llmctl" bench serve --base-url http://127.0.0.1:1 --num-prompts 2 >"$work/out" 2>"$work/err"
[[ $? -eq 1 && $(wc -l <"$work/err") -eq 1 ]] && grep -q '127.0.0.1' "$work/err" && pass || fail "bench serve, unreachable: $(cat "$work/err")"
# Bad flags: exit 2.
for flags in "--request-rate 0" "--max-concurrency 0" "--percentile-metrics ttft,nope" "--metric-percentiles 101" \
             "--random-range-ratio 1" "--backend tgi" "--extra-body [1]" "--no-such-flag"; do
  # shellcheck disable=SC2086
  "$bin/llmctl-bench" serve --base-url "$url" $flags >"$work/out" 2>"$work/err"
  [[ $? -eq 2 ]] && grep -q 'error' "$work/err" && pass || fail "bench serve $flags: $(cat "$work/err")"
done

summary
