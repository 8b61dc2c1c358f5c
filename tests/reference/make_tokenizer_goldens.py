#!/usr/bin/env python3
"""Expected token ids, decodes and chat renderings for the tokenizer tests, from the reference
implementations: Hugging Face `tokenizers` (encode/decode) and transformers' `apply_chat_template`.

Run on the GPU machine (it has tokenizers and transformers; CI does not), with the files that
tests/tokenizers/fetch.sh downloads:
    python3 tests/reference/make_tokenizer_goldens.py TOKENIZERS_DIR tests/fixtures/tokenizers
It writes OUT/<name>.json per tokenizer; the C++ tests require an exact match on every entry.
"""
import json
import random
import sys
from pathlib import Path

import tokenizers
import transformers

NAMES = ["qwen2_5", "qwen3", "llama3", "llama3_1", "deepseek_v3", "gemma3", "llama2"]

# SentencePiece conversions written by newer tokenizers (Mistral-7B-v0.3, Llama-2) use a Metaspace
# pre-tokenizer and decoder where the npm "llama2" file (Mixtral) has Prepend/Replace normalizers:
# the same vocabulary with those parts swapped. The tests apply the same overrides.
METASPACE = {"type": "Metaspace", "replacement": "\u2581", "prepend_scheme": "first", "split": False}
DERIVED = {
    "mistral_metaspace": ("llama2", {"normalizer": None, "pre_tokenizer": METASPACE, "decoder": METASPACE}),
    "metaspace_always_split": ("llama2", {
        "normalizer": None,
        "pre_tokenizer": dict(METASPACE, prepend_scheme="always", split=True),
        "decoder": dict(METASPACE, prepend_scheme="always", split=True)}),
}

# Hand-written strings: each exists to catch one class of mistake.
TEXTS = [
    "", " ", "  ", "\n", "\n\n\n", "\t", "\r\n", "a", "A", "Hello", "Hello world", " Hello world",
    "Hello  world", "Hello\tworld", "Hello\nworld", "Hello\r\nworld\r\n", "hello   \n\n  world  ",
    "The quick brown fox jumps over the lazy dog.", "I'm sure you'll see they've done it, 's 'S 'T 'Re",
    "DON'T YOU'LL WE'VE", "it’s curly — “quoted” … ok", "a\u00a0b", "z  \u2003 ok", "ſ long s", "Straße",
    # numbers
    "1", "12", "123", "1234", "12345678901234567890", "3.14159265358979", "1,000,000", "-42", "0x1F",
    "2024-07-26T12:34:56Z", "١٢٣٤٥", "一二三", "①②③", "Ⅻ",
    # scripts
    "你好，世界！", "我爱自然语言处理。", "日本語のテキストです。カタカナ", "한국어 텍스트입니다", "Привет, мир!",
    "Съешь же ещё этих мягких французских булок", "مرحبا بالعالم", "שלום עולם", "สวัสดีครับ ภาษาไทย",
    "नमस्ते दुनिया", "Γειά σου Κόσμε", "ქართული", "Tiếng Việt có dấu", "ᚠᛇᚻ᛫ᛒᛦᚦ",
    # emoji and combining marks
    "😀", "👍🏽", "👨‍👩‍👧‍👦 family", "🏳️‍🌈", "🇫🇷🇯🇵", "e\u0301", "é vs e\u0301", "A\u030a", "\u212b",
    "n\u0303o\u0308", "ﬁ ligature", "Ｆｕｌｌｗｉｄｔｈ", "\u200b\u200c\u200d", "\ufeffBOM", "a\u0000b",
    # whitespace runs
    "   leading", "trailing   ", "  both  ", "a \n b", "a\n \nb", " \n ", "\n  \n\t\n", "x" + " " * 40 + "y",
    "tabs\t\t\tand spaces", "\u3000ideographic space", "line1\rline2",
    # code
    "def f(x):\n    return x ** 2\n", "int main() { return 0; }", "for (int i = 0; i < n; ++i) {}",
    "const x = {a: 1, 'b': [2, 3]};", "SELECT * FROM t WHERE id = 42;", "<html><body>&amp;</body></html>",
    "```python\nprint('hi')\n```", "$ ls -la | grep '\\.cpp$'", "{\"key\": \"value\", \"n\": [1, 2.5, null]}",
    "https://example.com/path?q=1&r=%20", "user@example.com", "C:\\Windows\\System32",
    "    indented\n        more\n", "a==b!=c<=d>=e->f=>g", "::std::vector<int>", "#include <stdio.h>",
    # special-token look-alikes and real special tokens in user text
    "<|im_start|>user\nhi<|im_end|>", "<|im_start |>", "<|endoftext|", "|endoftext|>", "<|endoftext|>",
    "<|begin_of_text|>Hello", "<|eot_id|><|eot_id|>", "<s>hello</s>", "<unk>", "<bos>text<eos>",
    "<think>reasoning</think>answer", "<tool_call>{}</tool_call>", "<｜User｜>hi<｜Assistant｜>",
    "<start_of_turn>user\nhi<end_of_turn>", "[INST] hi [/INST]", "<|fim_prefix|>a<|fim_suffix|>b",
    "text<|im_end|>more", " <|im_end|> ", "<<|im_end|>>",
    # long repeats
    "a" * 300, "ab" * 150, " " * 100, "\n" * 50, "😀" * 30, "你" * 100, "hello " * 60, "1" * 200,
    "=" * 80, "-_" * 64, ".\n" * 40,
    # mixed
    "The price is $1,234.56 (≈€1.100) — 50% off!", "Mixed 中文 and English words", "emoji 😀 in 中文 text",
    "Ünïcödé ñaïve café résumé", "email: ï@ü.de", "math: ∑_{i=1}^{n} x_i² ≤ ∞", "arrows → ← ↑ ↓ ⇒",
    "control\x01\x02\x7f chars", "quotes 'single' \"double\" `back`", "tab\tsep\tvalues\n1\t2\t3",
]

FRAGMENTS = [t for t in TEXTS if 0 < len(t) < 60] + [" ", "\n", "  ", ". ", ", ", "!", "?"]


def generated_texts(count, seed):
    """Random concatenations of fragments: boundaries between scripts, spaces and tokens are where
    pre-tokenizers and added-token matching go wrong."""
    rng = random.Random(seed)
    return ["".join(rng.choice(FRAGMENTS) for _ in range(rng.randint(2, 8))) for _ in range(count)]


WEATHER_TOOL = {"type": "function", "function": {
    "name": "get_weather", "description": "Get the current weather in a city",
    "parameters": {"type": "object", "properties": {
        "city": {"type": "string", "description": "City name, e.g. Zürich"},
        "unit": {"type": "string", "enum": ["celsius", "fahrenheit"]}}, "required": ["city"]}}}
SEARCH_TOOL = {"type": "function", "function": {
    "name": "search", "description": "Search the web",
    "parameters": {"type": "object", "properties": {"query": {"type": "string"}}, "required": ["query"]}}}

CONVERSATIONS = [
    ("single user", [{"role": "user", "content": "Hello!"}], None, {}),
    ("system and user", [{"role": "system", "content": "You are a helpful assistant."},
                         {"role": "user", "content": "What is 2+2?"}], None, {}),
    ("multi-turn", [{"role": "system", "content": "Be brief."}, {"role": "user", "content": "Hi"},
                    {"role": "assistant", "content": "Hello! How can I help?"},
                    {"role": "user", "content": "Tell me a joke."},
                    {"role": "assistant", "content": "Why did the chicken cross the road?"},
                    {"role": "user", "content": "Why?"}], None, {}),
    ("unicode and whitespace", [{"role": "user", "content": "  你好，世界！ 👨‍👩‍👧‍👦\n\nПривет  \n"}], None, {}),
    ("special-token look-alikes", [{"role": "user", "content": "<|im_start|>system\nignore<|im_end|> <think>x</think>"}], None, {}),
    ("tools offered", [{"role": "user", "content": "What's the weather in Paris?"}], [WEATHER_TOOL, SEARCH_TOOL], {}),
    ("tools with system", [{"role": "system", "content": "You can call tools."},
                           {"role": "user", "content": "Weather in Zürich?"}], [WEATHER_TOOL], {}),
    ("tool call and result", [
        {"role": "user", "content": "What's the weather in Paris?"},
        {"role": "assistant", "content": "", "tool_calls": [{"type": "function", "function": {
            "name": "get_weather", "arguments": {"city": "Paris", "unit": "celsius"}}}]},
        {"role": "tool", "content": "{\"temperature\": 21, \"sky\": \"clear\"}"},
        {"role": "assistant", "content": "It is 21 °C and clear in Paris."},
        {"role": "user", "content": "And tomorrow?"}], [WEATHER_TOOL], {}),
    ("two parallel tool calls", [
        {"role": "user", "content": "Weather in Paris and Oslo"},
        {"role": "assistant", "content": None, "tool_calls": [
            {"id": "call_1", "type": "function", "function": {"name": "get_weather", "arguments": {"city": "Paris"}}},
            {"id": "call_2", "type": "function", "function": {"name": "get_weather", "arguments": {"city": "Oslo"}}}]},
        {"role": "tool", "tool_call_id": "call_1", "content": "18"},
        {"role": "tool", "tool_call_id": "call_2", "content": "4"}], [WEATHER_TOOL], {}),
    ("tool call arguments as a string", [
        {"role": "user", "content": "Search for llamas"},
        {"role": "assistant", "content": "", "tool_calls": [{"type": "function", "function": {
            "name": "search", "arguments": "{\"query\": \"llamas\"}"}}]},
        {"role": "tool", "content": "Llamas are camelids."}], [SEARCH_TOOL], {}),
    ("reasoning in history", [
        {"role": "user", "content": "2+2?"},
        {"role": "assistant", "content": "<think>\nSimple arithmetic.\n</think>\n\n4"},
        {"role": "user", "content": "3+3?"}], None, {}),
    ("reasoning_content field", [
        {"role": "user", "content": "2+2?"},
        {"role": "assistant", "content": "4", "reasoning_content": "Add two and two."},
        {"role": "user", "content": "Thanks"}], None, {}),
    ("thinking disabled", [{"role": "user", "content": "Quick answer: capital of France?"}], None, {"enable_thinking": False}),
    ("thinking enabled", [{"role": "user", "content": "Think: capital of France?"}], None, {"enable_thinking": True}),
    ("final assistant message", [{"role": "user", "content": "Hi"}, {"role": "assistant", "content": "Hello there"}], None, {}),
    ("content parts", [{"role": "user", "content": [{"type": "text", "text": "Describe"}, {"type": "text", "text": " this."}]}], None, {}),
    ("empty content", [{"role": "user", "content": ""}], None, {}),
    ("no messages", [], None, {}),
    ("assistant first", [{"role": "assistant", "content": "I start."}, {"role": "user", "content": "ok"}], None, {}),
]


def render(tokenizer, messages, tools, add_generation_prompt, kwargs):
    try:
        text = tokenizer.apply_chat_template(messages, tools=tools, add_generation_prompt=add_generation_prompt,
                                             tokenize=False, **kwargs)
        return {"rendered": text}
    except Exception as error:  # the template's own raise_exception, or a Jinja error
        return {"error": str(error)}


def main():
    source, out = Path(sys.argv[1]), Path(sys.argv[2])
    out.mkdir(parents=True, exist_ok=True)
    texts = TEXTS + generated_texts(200, seed=7)
    for name in NAMES + list(DERIVED):
        base, overrides = DERIVED.get(name, (name, None))
        folder = source / base
        if overrides:
            spec = json.loads((folder / "tokenizer.json").read_text())
            spec.update(overrides)
            reference = tokenizers.Tokenizer.from_str(json.dumps(spec))
        else:
            reference = tokenizers.Tokenizer.from_file(str(folder / "tokenizer.json"))
        special = [t.content for t in reference.get_added_tokens_decoder().values() if t.special]
        texts_here = texts + generated_texts(40, seed=sum(map(ord, name))) + [
            f"x{s}y {s}" for s in special[:12]]
        encode = []
        for i, text in enumerate(texts_here):
            plain = reference.encode(text, add_special_tokens=False)
            with_special = reference.encode(text, add_special_tokens=True)
            entry = {"text": text, "ids": plain.ids, "ids_with_special": with_special.ids}
            if i < 60:
                entry["tokens"] = plain.tokens
            encode.append(entry)
        rng = random.Random(len(name))
        vocab_size = reference.get_vocab_size(with_added_tokens=True)
        id_lists = [e["ids_with_special"] for e in encode[::3]]
        id_lists += [[rng.randrange(vocab_size) for _ in range(rng.randint(1, 12))] for _ in range(60)]
        decode = [{"ids": ids, "text": reference.decode(ids, skip_special_tokens=False),
                   "text_skip_special": reference.decode(ids, skip_special_tokens=True)} for ids in id_lists]
        golden = {"tokenizer": name, "tokenizers_version": tokenizers.__version__,
                  "transformers_version": transformers.__version__, "encode": encode, "decode": decode}
        if overrides:
            golden["derived_from"] = base
            golden["overrides"] = overrides
            (out / f"{name}.json").write_text(json.dumps(golden, ensure_ascii=False, indent=1) + "\n")
            print(f"{name}: {len(encode)} strings, {len(decode)} decodes (derived from {base})")
            continue

        # transformers: what vLLM tokenizes and renders with. Record where it disagrees with tokenizers.
        try:
            auto = transformers.AutoTokenizer.from_pretrained(str(folder))
        except Exception as error:
            golden["transformers_error"] = str(error)
            auto = None
        if auto is not None:
            golden["special_tokens_map"] = {k: str(v) for k, v in auto.special_tokens_map.items()}
            golden["transformers_disagreements"] = [
                {"text": e["text"], "transformers_ids": auto.encode(e["text"], add_special_tokens=True)}
                for e in encode if auto.encode(e["text"], add_special_tokens=True) != e["ids_with_special"]][:20]
            if auto.chat_template:
                chats = []
                for title, messages, tools, kwargs in CONVERSATIONS:
                    for add_generation_prompt in (False, True):
                        entry = {"name": title, "messages": messages, "add_generation_prompt": add_generation_prompt}
                        if tools:
                            entry["tools"] = tools
                        if kwargs:
                            entry["kwargs"] = kwargs
                        entry.update(render(auto, messages, tools, add_generation_prompt, kwargs))
                        chats.append(entry)
                golden["chat"] = chats
        path = out / f"{name}.json"
        path.write_text(json.dumps(golden, ensure_ascii=False, indent=1) + "\n")
        print(f"{name}: {len(encode)} strings, {len(decode)} decodes, {len(golden.get('chat', []))} renderings, "
              f"{len(golden.get('transformers_disagreements', []))} transformers disagreements -> {path}")


if __name__ == "__main__":
    main()
