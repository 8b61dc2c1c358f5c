#!/usr/bin/env bash
# llmctl inspect --tokenize / --detokenize / --render-chat on the real tokenizer files, as a user runs
# them, against the goldens from Hugging Face; bad input included.
#   test_inspect_tokenizer.sh BIN_DIR SOURCE_DIR TOKENIZER_DIR
set -u
bin=$1 src=$2 tokenizers=$3
goldens=$src/tests/fixtures/tokenizers
source "$(dirname "${BASH_SOURCE[0]}")/checks.sh"

# same NAME EXPECTED_FILE -- COMMAND...: stdout must equal the file's bytes exactly, exit 0.
same() {
  local name=$1 expected=$2; shift 3
  if "$@" >"$work/out" 2>"$work/err" && cmp -s "$work/out" "$expected"; then pass; else
    fail "$name: $(cat "$work/err") | got $(head -c 300 "$work/out" | od -c | head -5)"
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
# golden FILE PYTHON_EXPRESSION OUT: writes the value of the expression (on `g`, the golden) to OUT.
golden() { python3 -c "import json,sys; g=json.load(open('$goldens/$1.json')); sys.stdout.write($2)" >"$3"; }

qwen=$tokenizers/qwen3
# --tokenize --json, on a few golden strings with and without special tokens
for i in 40 63 100 150; do
  golden qwen3 "json.dumps(g['encode'][$i]['text'])" "$work/text.json"
  text=$(python3 -c "import json; print(json.load(open('$work/text.json')), end='')")
  golden qwen3 "json.dumps(g['encode'][$i]['ids'])" "$work/want"
  "$bin/llmctl-inspect" "$qwen" --tokenize "$text" --json | python3 -c "import json,sys; print(json.dumps(json.load(sys.stdin)['ids']), end='')" >"$work/got" \
    && cmp -s "$work/got" "$work/want" && pass || fail "tokenize golden string $i"
done
golden llama3_1 "g['encode'][9]['text']" "$work/text"
golden llama3_1 "json.dumps(g['encode'][9]['ids_with_special'])" "$work/want"
"$bin/llmctl-inspect" "$tokenizers/llama3_1" --tokenize - --add-special-tokens --json <"$work/text" \
  | python3 -c "import json,sys; print(json.dumps(json.load(sys.stdin)['ids']), end='')" >"$work/got"
cmp -s "$work/got" "$work/want" && pass || fail "tokenize stdin with special tokens: $(cat "$work/got") vs $(cat "$work/want")"
out=$("$bin/llmctl-inspect" "$qwen" --tokenize '<|im_start|>hi' --json)
[[ $out == '{"ids":[151644,6023],"tokens":["<|im_start|>","hi"]}' ]] && pass || fail "tokenize JSON shape: $out"
"$bin/llmctl-inspect" "$qwen" --tokenize 'Hello world' | grep -q '^2 tokens$' && pass || fail "tokenize text output"

# --detokenize, with and without special tokens
golden qwen3 "','.join(map(str, g['decode'][3]['ids']))" "$work/ids"
golden qwen3 "g['decode'][3]['text']" "$work/want"
same "detokenize" "$work/want" -- "$bin/llmctl-inspect" "$qwen" --detokenize "$(cat "$work/ids")"
golden qwen3 "json.dumps(g['decode'][3]['ids'], indent=2)" "$work/ids.json"
same "detokenize a pasted multi-line JSON array" "$work/want" -- "$bin/llmctl-inspect" "$qwen" --detokenize "$(cat "$work/ids.json")"
golden gemma3 "','.join(map(str, g['decode'][70]['ids']))" "$work/ids"
golden gemma3 "g['decode'][70]['text_skip_special']" "$work/want"
same "detokenize skipping special tokens" "$work/want" -- "$bin/llmctl-inspect" "$tokenizers/gemma3" --detokenize "$(cat "$work/ids")" --skip-special-tokens

# --render-chat: messages file, a request body on stdin, tools, kwargs, a template override
for name in qwen2_5 qwen3 llama3_1 deepseek_v3 gemma3; do
  for i in 1 7 13 25; do
    golden $name "json.dumps(g['chat'][$i]['messages'])" "$work/messages.json"
    golden $name "json.dumps(g['chat'][$i].get('tools'))" "$work/tools.json"
    golden $name "json.dumps(g['chat'][$i].get('kwargs', {}))" "$work/kwargs.json"
    golden $name "g['chat'][$i].get('rendered', '')" "$work/want"
    generation=(); [[ $(python3 -c "import json; print(json.load(open('$goldens/$name.json'))['chat'][$i]['add_generation_prompt'])") == True ]] && generation=(--add-generation-prompt)
    if python3 -c "import json,sys; sys.exit('error' not in json.load(open('$goldens/$name.json'))['chat'][$i])"; then
      error "render $name #$i fails as in transformers" 1 'error' -- "$bin/llmctl-inspect" "$tokenizers/$name" --render-chat "$work/messages.json" --tools "$work/tools.json" "${generation[@]}" --chat-template-kwargs "$(cat "$work/kwargs.json")"
    else
      same "render $name #$i" "$work/want" -- "$bin/llmctl-inspect" "$tokenizers/$name" --render-chat "$work/messages.json" --tools "$work/tools.json" "${generation[@]}" --chat-template-kwargs "$(cat "$work/kwargs.json")"
    fi
  done
done
golden qwen3 "json.dumps({'model': 'x', 'messages': g['chat'][13]['messages'], 'tools': g['chat'][13]['tools']})" "$work/request.json"
golden qwen3 "g['chat'][13]['rendered']" "$work/want"
same "render a chat completion request from stdin" "$work/want" -- bash -c "'$bin/llmctl-inspect' '$qwen' --render-chat - --add-generation-prompt <'$work/request.json'"
printf '[{"role":"user","content":"hi"}]' >"$work/hi.json"
printf '{%% for m in messages %%}<{{ m.role }}>{{ m.content | upper }}{%% endfor %%}' >"$work/t.jinja"
printf '<user>HI' >"$work/want"
same "--chat-template FILE" "$work/want" -- "$bin/llmctl-inspect" "$qwen" --render-chat "$work/hi.json" --chat-template "$work/t.jinja"
same "--chat-template STRING" "$work/want" -- "$bin/llmctl-inspect" "$qwen" --render-chat "$work/hi.json" --chat-template "$(cat "$work/t.jinja")"
out=$("$bin/llmctl-inspect" "$qwen" --render-chat "$work/hi.json" --add-generation-prompt --chat-template-kwargs '{"enable_thinking": false}')
# $(...) drops the final newlines
[[ $out == *$'<|im_start|>assistant\n<think>\n\n</think>' ]] && pass || fail "enable_thinking false: $out"

# bad input: one line on stderr, exit 1 (2 for command-line errors), nothing on stdout
error "no tokenizer.json" 1 'no tokenizer.json here' -- "$bin/llmctl-inspect" "$work" --tokenize hi
error "id outside the vocabulary" 1 'token id 999999999 is outside the vocabulary' -- "$bin/llmctl-inspect" "$qwen" --detokenize 1,999999999
error "not an id" 1 '"x7" is not a token id' -- "$bin/llmctl-inspect" "$qwen" --detokenize 1,x7
error "a signed id is not an id" 1 '"\+5" is not a token id' -- "$bin/llmctl-inspect" "$qwen" --detokenize +5
error "messages file is a folder" 1 'cannot read the file' -- "$bin/llmctl-inspect" "$qwen" --render-chat "$work"
error "--tensors is not a tokenizer mode" 2 'excludes' -- "$bin/llmctl-inspect" "$qwen" --tokenize a --tensors
error "invalid UTF-8" 1 'not valid UTF-8' -- "$bin/llmctl-inspect" "$qwen" --tokenize $'\xff'
printf '[{"role":' >"$work/bad.json"
error "messages not JSON" 1 'bad.json: invalid JSON: parse error at line 1' -- "$bin/llmctl-inspect" "$qwen" --render-chat "$work/bad.json"
error "kwargs not an object" 1 'chat-template-kwargs: expected a JSON object' -- "$bin/llmctl-inspect" "$qwen" --render-chat "$work/hi.json" --chat-template-kwargs '[1]'
error "template syntax error names line and column" 1 '--chat-template:2:[0-9]+' -- "$bin/llmctl-inspect" "$qwen" --render-chat "$work/hi.json" --chat-template $'ok\n{% if %}'
error "raise_exception reaches the user" 1 'roles must alternate' -- "$bin/llmctl-inspect" "$qwen" --render-chat "$work/hi.json" --chat-template "{{ raise_exception('roles must alternate') }}"
error "path-like template that does not exist" 1 'no such file' -- "$bin/llmctl-inspect" "$qwen" --render-chat "$work/hi.json" --chat-template "$work/none.jinja"
error "empty conversation" 1 'empty conversation' -- bash -c "echo '[]' | '$bin/llmctl-inspect' '$qwen' --render-chat -"
error "no template" 1 'has no chat template' -- "$bin/llmctl-inspect" "$tokenizers/llama2" --render-chat "$work/hi.json"
error "flag needs its mode" 2 'add-special-tokens requires --tokenize' -- "$bin/llmctl-inspect" "$qwen" --add-special-tokens
error "modes exclude each other" 2 'excludes' -- "$bin/llmctl-inspect" "$qwen" --tokenize a --detokenize 1

summary 41
