#!/usr/bin/env bash
# Runs the programs as a user would and checks their output, exit codes and error lines.
#   test_cli_programs.sh BIN_DIR SOURCE_DIR
set -u
bin=$1 src=$2
configs=$src/tests/fixtures/configs
tiny=$src/tests/fixtures/tiny-models
work=$(mktemp -d)
trap 'rm -rf "$work"' EXIT
passed=0 failed=0

# check NAME EXPECTED_EXIT PATTERN -- COMMAND...: runs COMMAND, checks its exit code and that its
# stdout+stderr matches the extended regular expression PATTERN.
check() {
  local name=$1 want_rc=$2 pattern=$3; shift 4
  local out rc
  out=$("$@" 2>&1); rc=$?
  if [[ $rc -eq $want_rc ]] && grep -Eq -- "$pattern" <<<"$out"; then
    passed=$((passed + 1))
  else
    failed=$((failed + 1))
    printf 'FAIL %s: exit %s (wanted %s), output:\n%s\n' "$name" "$rc" "$want_rc" "$out" | head -20
  fi
}

# An error is one line on stderr and nothing on stdout.
check_one_line_error() {
  local name=$1 pattern=$2; shift 3
  local out err rc
  out=$("$@" 2>"$work/err"); rc=$?; err=$(cat "$work/err")
  if [[ $rc -eq 1 && -z $out && $(wc -l <"$work/err") -eq 1 ]] && grep -Eq -- "$pattern" <<<"$err"; then
    passed=$((passed + 1))
  else
    failed=$((failed + 1))
    printf 'FAIL %s: exit %s, stdout %q, stderr:\n%s\n' "$name" "$rc" "$out" "$err"
  fi
}

# The dispatcher
check "help lists the commands" 0 'mem-estimate +Predict GPU memory' -- "$bin/llmctl" --help
check "version" 0 '^llmctl [0-9]+\.[0-9]+\.[0-9]+$' -- "$bin/llmctl" --version
check "dispatch runs llmctl-inspect" 0 'Parameters +7,615,616,512' -- "$bin/llmctl" inspect "$configs/Qwen--Qwen2.5-7B-Instruct"
check "help SUB" 0 'Usage: llmctl-inspect' -- "$bin/llmctl" help inspect
check "unknown command suggests" 1 "'inspct' is not an llmctl command. The most similar command is 'inspect'" -- "$bin/llmctl" inspct x
check "unknown option" 2 "unknown option '--frobnicate'" -- "$bin/llmctl" --frobnicate
mkdir -p "$work/path"
printf '#!/bin/sh\necho "plugin got: $*"\n' >"$work/path/llmctl-hello"; chmod +x "$work/path/llmctl-hello"
check "an llmctl-NAME program on PATH runs" 0 '^plugin got: a b$' -- env PATH="$work/path:$PATH" "$bin/llmctl" hello a b
cp "$bin/llmctl" "$work/lonely-llmctl"
check "a known command that is not installed" 1 "'inspect' is an llmctl command but llmctl-inspect was not found" -- env PATH=/usr/bin:/bin "$work/lonely-llmctl" inspect x
check "subcommand --version" 0 '^llmctl-mem-estimate [0-9.]+$' -- "$bin/llmctl" mem-estimate --version

# inspect
check "inspect Llama-3.1 config" 0 'llama3 scaling x8 from 8192' -- "$bin/llmctl-inspect" "$configs/meta-llama--Llama-3.1-8B-Instruct"
check "inspect EOS list" 0 'EOS token ids +128001, 128008, 128009' -- "$bin/llmctl-inspect" "$configs/meta-llama--Llama-3.1-8B-Instruct"
check "inspect sharded checkpoint" 0 'safetensors, 5 files' -- "$bin/llmctl-inspect" "$tiny/tiny-qwen3"
check "inspect --tensors" 0 'model.layers.1.self_attn.k_norm.weight +BF16 +\[32\]' -- "$bin/llmctl-inspect" "$tiny/tiny-qwen3" --tensors
check "inspect --json is JSON" 0 '^139712$' -- bash -c "'$bin/llmctl-inspect' '$tiny/tiny-qwen3' --json | python3 -c 'import json,sys; print(json.load(sys.stdin)[\"parameters\"])'"
check "inspect config.json path" 0 'Parameters +8,190,735,360' -- "$bin/llmctl-inspect" "$configs/Qwen--Qwen3-8B/config.json"

# Bad input: one line on stderr, exit 1
check_one_line_error "missing folder" 'llmctl-inspect: error: .*/nope: no such model folder' -- "$bin/llmctl-inspect" "$work/nope"
mkdir -p "$work/empty"
check_one_line_error "folder without config.json" 'no config.json here' -- "$bin/llmctl-inspect" "$work/empty"
mkdir -p "$work/badjson"; echo '{"architectures": [' >"$work/badjson/config.json"
check_one_line_error "invalid JSON" 'config.json: invalid JSON: parse error at line 2' -- "$bin/llmctl-inspect" "$work/badjson"
mkdir -p "$work/gemma"; sed 's/Qwen2ForCausalLM/Gemma3ForCausalLM/' "$configs/Qwen--Qwen2.5-7B-Instruct/config.json" >"$work/gemma/config.json"
check_one_line_error "unknown architecture" "architecture 'Gemma3ForCausalLM' is not supported" -- "$bin/llmctl-inspect" "$work/gemma"
check_one_line_error "mem-estimate on unknown architecture" "not supported" -- "$bin/llmctl-mem-estimate" "$work/gemma"
mkdir -p "$work/notst"; cp "$configs/Qwen--Qwen2.5-7B-Instruct/config.json" "$work/notst/"
echo "hello, I am not a tensor file" >"$work/notst/model.safetensors"
check_one_line_error "not a safetensors file" 'model.safetensors: not a valid safetensors file' -- "$bin/llmctl-inspect" "$work/notst"
cp -r "$tiny/tiny-qwen3" "$work/cut"; truncate -s 1000 "$work/cut/model-00003-of-00005.safetensors"
check_one_line_error "truncated shard" 'model-00003-of-00005.safetensors: not a valid safetensors file' -- "$bin/llmctl-inspect" "$work/cut"
check "missing option value" 2 '--tokenize: 1 required TEXT missing' -- "$bin/llmctl-inspect" --tokenize
check "unknown flag" 2 'error: .*--bogus' -- "$bin/llmctl-inspect" "$configs/Qwen--Qwen3-8B" --bogus

# mem-estimate
q7=$configs/Qwen--Qwen2.5-7B-Instruct
check "mem-estimate fits" 0 'Fits: yes\. Maximum concurrency for 32,768 tokens per request' -- "$bin/llmctl-mem-estimate" "$q7" --gpu h100-80g
check "mem-estimate weights table" 0 'bf16 +14\.19 GiB +7\.09 GiB +3\.55 GiB +-' -- "$bin/llmctl-mem-estimate" "$q7" --gpu h100-80g
check "mem-estimate KV per token" 0 'KV cache per token per GPU: 56\.00 KiB' -- "$bin/llmctl-mem-estimate" "$q7" --gpu h200
check "mem-estimate -tp and 70B" 0 'Fits: yes' -- "$bin/llmctl-mem-estimate" "$configs/meta-llama--Llama-3.1-70B-Instruct" --gpu h200 -tp 2 --max-model-len 128K
check "mem-estimate does not fit" 0 'Would fit with: --tensor-parallel-size 4' -- "$bin/llmctl-mem-estimate" "$configs/meta-llama--Llama-3.1-70B-Instruct" --gpu h100
check "mem-estimate --json" 0 '^True 57344$' -- bash -c "'$bin/llmctl-mem-estimate' '$q7' --gpu h200 --json | python3 -c 'import json,sys; d=json.load(sys.stdin); print(d[\"fits\"], d[\"kv_cache\"][\"bytes_per_token\"])'"
check "mem-estimate without a GPU says what it assumed" 0 'no GPU found here; assumed --gpu h100-80g|detected' -- "$bin/llmctl-mem-estimate" "$q7"
check_one_line_error "mem-estimate bad TP" 'must be divisible by tensor parallel size \(8\)' -- "$bin/llmctl-mem-estimate" "$q7" --gpu h100 -tp 8
check_one_line_error "mem-estimate unknown GPU" "unknown GPU 'h900'; did you mean 'h200'" -- "$bin/llmctl-mem-estimate" "$q7" --gpu h900
check_one_line_error "mem-estimate too long" '--max-model-len 65536 is larger than the model' -- "$bin/llmctl-mem-estimate" "$q7" --gpu h100 --max-model-len 64K
check "mem-estimate bad token count" 2 "'lots' is not a token count" -- "$bin/llmctl-mem-estimate" "$q7" --max-model-len lots
check "mem-estimate bad kv dtype" 2 'kv-cache-dtype' -- "$bin/llmctl-mem-estimate" "$q7" --kv-cache-dtype int3

# The completion scripts parse, and bash completes a subcommand's flags.
check "bash completion syntax" 0 '' -- bash -n "$src/completions/llmctl.bash"
if command -v zsh >/dev/null; then check "zsh completion syntax" 0 '' -- zsh -n "$src/completions/_llmctl"; fi
if command -v fish >/dev/null; then check "fish completion syntax" 0 '' -- fish --no-execute "$src/completions/llmctl.fish"; fi
check "bash completes flags" 0 '--max-model-len' -- bash -c "source '$src/completions/llmctl.bash'; COMP_WORDS=(llmctl mem-estimate --max-m); COMP_CWORD=2; _llmctl; printf '%s\n' \"\${COMPREPLY[@]}\""
check "bash completes commands" 0 '^mem-estimate$' -- bash -c "source '$src/completions/llmctl.bash'; COMP_WORDS=(llmctl mem); COMP_CWORD=1; _llmctl; printf '%s\n' \"\${COMPREPLY[@]}\""
# man pages render without warnings
for page in "$src"/man/*.1; do
  check "man page $(basename "$page")" 0 '' -- bash -c "out=\$(LC_ALL=C.UTF-8 MANWIDTH=80 man --warnings -l '$page' 2>&1 >/dev/null); [[ -z \$out ]] || { echo \"\$out\"; exit 1; }"
done

echo "$passed passed, $failed failed"
[[ $failed -eq 0 ]]
