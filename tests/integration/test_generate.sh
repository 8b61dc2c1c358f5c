#!/usr/bin/env bash
# llmctl generate as a user runs it, on the tiny reference models of tests/fixtures/generation: output
# against transformers' greedy goldens, the output formats, prompt sources, and bad input.
#   test_generate.sh BIN_DIR SOURCE_DIR
set -u
bin=$1 src=$2
models=$src/tests/fixtures/generation
source "$(dirname "${BASH_SOURCE[0]}")/checks.sh"
export LLMCTL_LOG_LEVEL=warning

# ok NAME PYTHON_CHECK -- COMMAND...: exits 0, and the check (on `out`, stdout's text) holds.
ok() {
  local name=$1 check=$2; shift 3
  if "$@" >"$work/out" 2>"$work/err" && OUT="$work/out" python3 -c "
import json, os, sys
out = open(os.environ['OUT'], encoding='utf-8').read()
lines = [json.loads(l) for l in out.splitlines()] if out.startswith('{') else []
def golden(model, case): return [c for c in json.load(open('$models/' + model + '/expected.json'))['cases'] if c['name'] == case][0]
def tokens(c): return [s['token'] for s in c['greedy']]
assert $check" 2>"$work/py"; then pass; else
    fail "$name: $(cat "$work/err" "$work/py" | tail -5) | stdout: $(head -c 300 "$work/out")"
  fi
}
# error NAME EXIT PATTERN -- COMMAND...: fails with EXIT, nothing on stdout, stderr matching PATTERN.
error() {
  local name=$1 want=$2 pattern=$3; shift 4
  "$@" >"$work/out" 2>"$work/err"; local rc=$?
  if [[ $rc -eq $want && ! -s $work/out ]] && grep -Eq -- "$pattern" "$work/err"; then pass; else
    fail "$name: exit $rc (wanted $want), stdout $(head -c 200 "$work/out"), stderr $(cat "$work/err")"
  fi
}

greedy=(--temperature 0 --max-tokens 24 --ignore-eos --device cpu)  # the CPU backend follows transformers exactly

# Text prompts through the tokenizer, and token-id prompts, against transformers.
ok "text prompt, json, logprobs" "lines[0]['prompt_token_ids'] == golden('qwen3', 'text-8')['prompt_token_ids'] and lines[0]['outputs'][0]['token_ids'] == tokens(golden('qwen3', 'text-8')) and all(abs(a['logprob'] - b[1]) < 1e-4 for s, g in zip(lines[0]['outputs'][0]['logprobs'], golden('qwen3', 'text-8')['greedy']) for a, b in zip(s, g['top']))" \
  -- "$bin/llmctl-generate" "$models/qwen3" -p "Hello world" "${greedy[@]}" --logprobs 5 --output-format json
ids=$(python3 -c "import json; print(','.join(map(str, [c for c in json.load(open('$models/llama-linear-bin/expected.json'))['cases'] if c['name'] == 'random-64'][0]['prompt_token_ids'])))")
ok "token ids, PyTorch .bin checkpoint" "lines[0]['prompt'] is None and lines[0]['outputs'][0]['token_ids'][:20] == tokens(golden('llama-linear-bin', 'random-64'))[:20] and 'logprobs' not in lines[0]['outputs'][0]" \
  -- "$bin/llmctl-generate" "$models/llama-linear-bin" --prompt-token-ids "$ids" "${greedy[@]}" --output-format json
ok "--chat renders the chat template" "lines[0]['prompt_token_ids'] == golden('qwen3', 'chat')['prompt_token_ids'] and lines[0]['outputs'][0]['token_ids'] == tokens(golden('qwen3', 'chat'))" \
  -- "$bin/llmctl-generate" "$models/qwen3" --chat -p "Hi there" "${greedy[@]}" --output-format json
ok "through the llmctl dispatcher" "lines[0]['outputs'][0]['finish_reason'] == 'length' and len(lines[0]['outputs'][0]['token_ids']) == 16" \
  -- "$bin/llmctl" generate "$models/mistral-window" -p "Hello world" --temperature 0 --ignore-eos --output-format json
ids300=$(python3 -c "import json; print(','.join(map(str, json.load(open('$models/qwen3/expected.json'))['cases'][7]['prompt_token_ids'])))")
ok "--rope-scaling replaces config.json's scaling" "lines[0]['outputs'][0]['token_ids'] != tokens(golden('qwen3', 'random-300'))" \
  -- "$bin/llmctl-generate" "$models/qwen3" --prompt-token-ids "$ids300" "${greedy[@]}" --output-format json \
     --rope-scaling '{"rope_type":"yarn","factor":4.0,"original_max_position_embeddings":128}'
ok "without it, the same prompt follows transformers" "lines[0]['outputs'][0]['token_ids'][:10] == tokens(golden('qwen3', 'random-300'))[:10]" \
  -- "$bin/llmctl-generate" "$models/qwen3" --prompt-token-ids "$ids300" "${greedy[@]}" --output-format json

# Output formats and prompt sources.
ok "single prompt, text: the text alone" "out == golden('qwen3', 'text-8')['greedy_text'] + '\n'" \
  -- "$bin/llmctl-generate" "$models/qwen3" -p "Hello world" "${greedy[@]}" --skip-special-tokens false
printf 'Hello world\n\n你好\nWrite a poem about the sea.\n' >"$work/prompts.txt"
ok "--prompts-file: one JSON line per prompt, in order" "[l['prompt'] for l in lines] == ['Hello world', '你好', 'Write a poem about the sea.'] and lines[1]['outputs'][0]['token_ids'] == tokens(golden('qwen3', 'text-6'))" \
  -- "$bin/llmctl-generate" "$models/qwen3" --prompts-file "$work/prompts.txt" "${greedy[@]}" --output-format json
ok "--prompts-file - reads stdin; text lines name each prompt" "out.splitlines()[0].startswith('Prompt: \"Hello world\", Generated text: \"') and len(out.splitlines()) == 3" \
  -- bash -c "'$bin/llmctl-generate' '$models/qwen3' --prompts-file - ${greedy[*]} < '$work/prompts.txt'"
ok "--n 2 with a seed: two different outputs, the same on every run" "len(lines[0]['outputs']) == 2 and lines[0]['outputs'][0]['token_ids'] != lines[0]['outputs'][1]['token_ids']" \
  -- "$bin/llmctl-generate" "$models/llama3" -p "Hello" --n 2 --seed 7 --max-tokens 20 --output-format json
cp "$work/out" "$work/first"
ok "seeded output repeats" "out == open('$work/first').read()" \
  -- "$bin/llmctl-generate" "$models/llama3" -p "Hello" --n 2 --seed 7 --max-tokens 20 --output-format json
stop=$(python3 -c "import json; print(json.load(open('$models/qwen3/expected.json'))['cases'][8]['greedy_text'][5:8])")
ok "--stop cuts the text and names the stop" "lines[0]['outputs'][0]['finish_reason'] == 'stop' and lines[0]['outputs'][0]['stop_reason'] == '$stop' and '$stop' not in lines[0]['outputs'][0]['text']" \
  -- "$bin/llmctl-generate" "$models/qwen3" -p "Hello world" "${greedy[@]}" --stop "$stop" --output-format json
"$bin/llmctl-generate" "$models/qwen3" --prompts-file "$work/prompts.txt" --max-tokens 4 >/dev/null 2>"$work/err"
grep -q "Processed prompts" "$work/err" && fail "progress drawn on a non-terminal" || pass
if command -v script >/dev/null; then
  script -qec "'$bin/llmctl-generate' '$models/qwen3' --prompts-file '$work/prompts.txt' --max-tokens 4" "$work/tty" >/dev/null 2>&1
  grep -q "Processed prompts: 100% 3/3" "$work/tty" && pass || fail "no progress line on a terminal: $(tail -c 300 "$work/tty")"
fi
printf 'Hello world\r\n' >"$work/crlf.txt"
ok "--prompts-file with CRLF line ends" "lines[0]['prompt'] == 'Hello world'" -- "$bin/llmctl-generate" "$models/qwen3" --prompts-file "$work/crlf.txt" --max-tokens 2 --output-format json
cp -r "$models/qwen3" "$work/capped"
sed -i 's/"eos_token_id": 2,/"eos_token_id": 2, "max_new_tokens": 5,/' "$work/capped/generation_config.json"
ok "generation_config.json's max_new_tokens is the default --max-tokens" "len(lines[0]['outputs'][0]['token_ids']) == 5" \
  -- "$bin/llmctl-generate" "$work/capped" -p "Hello" --ignore-eos --output-format json
ok "and --max-tokens overrides it" "len(lines[0]['outputs'][0]['token_ids']) == 7" \
  -- "$bin/llmctl-generate" "$work/capped" -p "Hello" --ignore-eos --max-tokens 7 --output-format json

# Bad input: one line, a non-zero exit, nothing on stdout.
error "prompt longer than --max-model-len" 1 'The decoder prompt \(length 22\) is longer than the maximum model length of 16' \
  -- "$bin/llmctl-generate" "$models/qwen3" -p "Write a poem about the sea." --max-model-len 16
error "--max-model-len beyond the model" 1 'larger than the model' -- "$bin/llmctl-generate" "$models/qwen3" -p x --max-model-len 100000
error "invalid sampling value (vLLM's message)" 1 'temperature must be non-negative, got -1.0' \
  -- "$bin/llmctl-generate" "$models/qwen3" -p x --temperature -1
error "unknown output format" 2 'output-format' -- "$bin/llmctl-generate" "$models/qwen3" -p x --output-format xml
error "no prompt" 1 'no prompt' -- "$bin/llmctl-generate" "$models/qwen3"
error "malformed token ids" 1 "--prompt-token-ids: '2x' is not a token id" -- "$bin/llmctl-generate" "$models/qwen3" --prompt-token-ids 1,2x
error "token id out of the vocabulary" 1 'Token id 999 is out of vocabulary' -- "$bin/llmctl-generate" "$models/qwen3" --prompt-token-ids 1,999
error "missing model folder" 1 'does-not-exist' -- "$bin/llmctl-generate" "$work/does-not-exist" -p x
error "missing prompts file" 1 'cannot be read' -- "$bin/llmctl-generate" "$models/qwen3" --prompts-file "$work/nothing.txt"
cp -r "$models/qwen3" "$work/truncated"
truncate -s -1000 "$work/truncated/model.safetensors"
error "truncated weights" 1 'model.safetensors.*truncated' -- "$bin/llmctl-generate" "$work/truncated" -p x
cp -r "$models/qwen3" "$work/reshaped"
sed -i 's/"intermediate_size": 128/"intermediate_size": 96/' "$work/reshaped/config.json"
error "shapes that do not match config.json" 1 'has shape \[64, 128\] but config.json implies \[64, 96\]' -- "$bin/llmctl-generate" "$work/reshaped" -p x
error "bad --rope-theta" 1 'rope-theta must be a number greater than 1' -- "$bin/llmctl-generate" "$models/qwen3" -p x --rope-theta 0
printf 'Hello\n%0600d\n' 0 >"$work/long.txt"
error "the bad prompt of several is named, before any runs" 1 'prompt 2: The decoder prompt' \
  -- "$bin/llmctl-generate" "$models/qwen3" --prompts-file "$work/long.txt"
cp -r "$models/qwen3" "$work/weightless" && rm "$work/weightless/model.safetensors"
error "a bad prompt file fails before the model loads" 1 'nothing.txt: cannot be read' \
  -- "$bin/llmctl-generate" "$work/weightless" --prompts-file "$work/nothing.txt"
error "no weights" 1 'no weights found' -- "$bin/llmctl-generate" "$work/weightless" -p x
error "VLLM_CPU_KVCACHE_SPACE out of range" 1 "VLLM_CPU_KVCACHE_SPACE: 'inf'" -- env VLLM_CPU_KVCACHE_SPACE=inf "$bin/llmctl-generate" "$models/qwen3" -p x
error "bad --rope-scaling" 1 "rope scaling type 'cubic' is not supported" \
  -- "$bin/llmctl-generate" "$models/qwen3" -p x --rope-scaling '{"rope_type":"cubic","factor":2}'
if nvidia-smi -L >/dev/null 2>&1; then
  ok "--device cuda follows transformers (first tokens, bf16)" "lines[0]['outputs'][0]['token_ids'][:5] == tokens(golden('qwen3', 'text-8'))[:5]" \
    -- "$bin/llmctl-generate" "$models/qwen3" -p "Hello world" --temperature 0 --max-tokens 24 --ignore-eos --device cuda --output-format json
else
  error "--device cuda without a GPU" 1 'no CUDA (GPU is visible|backend)' -- "$bin/llmctl-generate" "$models/qwen3" -p x --device cuda
fi
error "--dtype is checked" 2 'dtype' -- "$bin/llmctl-generate" "$models/qwen3" -p x --dtype int8

summary
