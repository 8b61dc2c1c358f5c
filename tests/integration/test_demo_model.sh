#!/usr/bin/env bash
# The demo model as a newcomer meets it: every command without MODEL runs llmctl-demo; its greedy output
# on the CPU equals transformers' (tests/fixtures/demo-model.json, written by the training script) token
# for token, through `llmctl generate` and `llmctl serve`; the installed tree finds it beside its
# programs; and the errors when it is missing.
#   test_demo_model.sh BIN_DIR SOURCE_DIR BUILD_DIR
set -u
bin=$1 src=$2 build=$3
golden=$src/tests/fixtures/demo-model.json
source "$(dirname "${BASH_SOURCE[0]}")/checks.sh"
export LLMCTL_LOG_LEVEL=warning
# Without a GPU the commands run as typed; with one, the exact comparisons ask for the CPU backend (the
# GPU computes in bf16).
cpu=()
nvidia-smi -L >/dev/null 2>&1 && cpu=(--device cpu)
greedy=(--temperature 0 --max-tokens "$(python3 -c "import json; print(json.load(open('$golden'))['max_tokens'])")")

# check NAME PYTHON_CHECK -- COMMAND...: exits 0, and the check holds on `lines` (stdout's JSON lines),
# `out` (stdout) and `cases` (the golden cases).
check() {
  local name=$1 condition=$2; shift 3
  if "$@" >"$work/out" 2>"$work/err" && OUT="$work/out" python3 -c "
import json, os
out = open(os.environ['OUT'], encoding='utf-8').read()
lines = [json.loads(l) for l in out.splitlines()] if out.startswith('{') else []
cases = json.load(open('$golden'))['cases']
text_cases = [c for c in cases if 'messages' not in c]
chat_cases = [c for c in cases if 'messages' in c]
def same(line, case):  # the prompt's tokens, then the continuation token for token, its text and logprobs
    o = line['outputs'][0]
    assert line['prompt_token_ids'] == case['prompt_token_ids'], (line['prompt_token_ids'], case['prompt_token_ids'])
    assert o['token_ids'] == case['token_ids'], (o['token_ids'], case['token_ids'])
    assert o['text'] == case['text'] and o['finish_reason'] == case['finish_reason'], (o['text'], o['finish_reason'])
    assert all(abs(step[0]['logprob'] - want) < 1e-4 for step, want in zip(o['logprobs'], case['logprobs'], strict=True))
    return True
assert $condition" 2>"$work/py"; then pass; else
    fail "$name: $(tail -3 "$work/err") $(tail -3 "$work/py") | stdout: $(head -c 300 "$work/out")"
  fi
}

prompts=() messages=()
while IFS= read -r line; do prompts+=(-p "$line"); done < <(python3 -c "
import json; [print(c['prompt']) for c in json.load(open('$golden'))['cases'] if 'messages' not in c]")
while IFS= read -r line; do messages+=(-p "$line"); done < <(python3 -c "
import json; [print(c['messages'][0]['content']) for c in json.load(open('$golden'))['cases'] if 'messages' in c]")

# llmctl generate without MODEL: text prompts, and chats through the model's template.
check "generate: text prompts as transformers" "len(lines) == len(text_cases) == 4 and all(same(l, c) for l, c in zip(lines, text_cases))" \
  -- "$bin/llmctl" generate "${prompts[@]}" "${greedy[@]}" "${cpu[@]}" --logprobs 0 --output-format json
check "generate: chats as transformers" "len(lines) == len(chat_cases) == 5 and all(same(l, c) for l, c in zip(lines, chat_cases))" \
  -- "$bin/llmctl" generate --chat "${messages[@]}" "${greedy[@]}" "${cpu[@]}" --logprobs 0 --output-format json
check "generate with nothing but a prompt samples readable text" "len(out.split()) >= 3 and out.isascii()" \
  -- "$bin/llmctl" generate -p "And God said,"
# On the default device (the GPU where there is one): a greedy answer whose every step has a wide margin.
check "generate on the default device" "chat_cases[0]['min_margin'] > 1 and out == chat_cases[0]['text'] + '\\n'" \
  -- "$bin/llmctl" generate --chat "${messages[@]:0:2}" "${greedy[@]}"
check "inspect" "'Qwen2ForCausalLM' in out and '4,888,832' in out" -- "$bin/llmctl" inspect
check "mem-estimate" "'Fits: yes' in out" -- "$bin/llmctl" mem-estimate --gpu t4

# llmctl serve without MODEL: served as llmctl-demo; every golden case as transformers, the text ones as
# completions (naming the model), the chats as chat completions (naming none).
if start_server "$work/serve.log" "$bin/llmctl" serve "${cpu[@]}" --disable-log-requests --disable-log-stats; then
  url=http://127.0.0.1:$server_port
  check "serve: /v1/models" "json.loads(out)['data'][0]['id'] == 'llmctl-demo'" -- curl -sf "$url/v1/models"
  if URL=$url GOLDEN=$golden python3 - 2>"$work/py" <<'PY'; then pass; else fail "serve: golden cases: $(tail -3 "$work/py")"; fi
import json, os, urllib.request
url, golden = os.environ['URL'], json.load(open(os.environ['GOLDEN']))
def post(path, body):
    request = urllib.request.Request(url + path, json.dumps(body).encode(), {'Content-Type': 'application/json'})
    return json.load(urllib.request.urlopen(request))
for case in golden['cases']:
    greedy = {'temperature': 0, 'max_tokens': golden['max_tokens']}
    if 'messages' in case:
        choice = post('/v1/chat/completions', {'messages': case['messages'], 'logprobs': True, **greedy})['choices'][0]
        text, logprobs = choice['message']['content'], [t['logprob'] for t in choice['logprobs']['content']]
    else:
        choice = post('/v1/completions', {'model': 'llmctl-demo', 'prompt': case['prompt'], 'logprobs': 1, **greedy})['choices'][0]
        text, logprobs = choice['text'], choice['logprobs']['token_logprobs']
    assert text == case['text'] and choice['finish_reason'] == case['finish_reason'], (case['prompt'], text)
    assert all(abs(a - b) < 1e-4 for a, b in zip(logprobs, case['logprobs'], strict=True)), case['prompt']
PY
else
  fail "llmctl serve without MODEL did not start: $(tail -5 "$work/serve.log")"
fi

# Installed elsewhere, the programs find the model beside them; the installed files are the committed ones.
# (The GPU machine runs this script from a bundle of the programs, with no build tree to install.)
expected=12
if [[ ! -f $build/cmake_install.cmake ]]; then
  echo "no build tree at $build: the installed tree is not checked"
  expected=10
elif cmake --install "$build" --prefix "$work/prefix" >"$work/install.log" 2>&1; then
  check "installed tree runs the demo model" "same(lines[0], chat_cases[0])" \
    -- "$work/prefix/bin/llmctl" generate --chat "${messages[@]:0:2}" "${greedy[@]}" "${cpu[@]}" --logprobs 0 --output-format json
  diff -r "$src/packaging/demo-model/llmctl-demo" "$work/prefix/share/llmctl/llmctl-demo" >/dev/null \
    && pass || fail "installed demo model differs from packaging/demo-model/llmctl-demo"
else
  fail "cmake --install: $(tail -3 "$work/install.log")"
fi

# A folder named llmctl-demo in the current directory is a path, and wins.
mkdir -p "$work/here/llmctl-demo" && cp "$src"/tests/fixtures/generation/qwen3/* "$work/here/llmctl-demo/"
check "./llmctl-demo takes precedence" "lines[0]['prompt_token_ids'] != text_cases[0]['prompt_token_ids']" \
  -- bash -c "cd '$work/here' && '$bin/llmctl-generate' -p '${prompts[1]}' --max-tokens 1 --device cpu --output-format json"

# Programs without the model beside them say so.
mkdir -p "$work/lonely/bin" && cp "$bin/llmctl-generate" "$work/lonely/bin/"
"$work/lonely/bin/llmctl-generate" -p x >"$work/out" 2>"$work/err"
[[ $? -eq 1 && ! -s $work/out ]] && grep -q "llmctl-demo: the demo model is not installed (.*/share/llmctl/llmctl-demo/config.json is missing); give a MODEL" "$work/err" \
  && pass || fail "missing demo model: $(cat "$work/err")"

summary $expected
