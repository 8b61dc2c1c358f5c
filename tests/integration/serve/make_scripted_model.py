#!/usr/bin/env python3
"""Writes a Llama-architecture model folder whose greedy output is a fixed script, for server tests.

Every token's embedding is a one-hot vector and every layer's weights are zero, so the logits depend only
on the last token: lm_head maps each script token to the next one, and any other token to the script's
first. Whatever the prompt, the model therefore answers with the script, then its end-of-sequence token:
reasoning, content and a Hermes tool call, as Qwen models write them, so that the server's reasoning and
tool-call parsers, streaming included, can be checked end to end through the real engine. The logit margin
(about 36) makes even temperature-1 sampling follow the script. The tokenizer is byte-level BPE without
merges; each script piece is one added token. Only the standard library is needed.

    make_scripted_model.py OUT_DIR
"""
import json
import struct
import sys
from array import array
from pathlib import Path

SCRIPT = [
    "<think>",
    "\nThe user wants the weather in Paris.",
    "\n</think>\n\n",
    "Let me check. Grüße 👋",
    "\n<tool_call>\n",
    '{"name": "get_weather", "arguments": {"city": "Paris", "unit": "celsius"}}',
    "\n</tool_call>",
]
SPECIALS = ["<|endoftext|>", "<|im_start|>", "<|im_end|>"]
HIDDEN, HEADS, INTERMEDIATE = 320, 5, 64

CHAT_TEMPLATE = """{%- if tools %}<|im_start|>system
You can call these tools:
{%- for tool in tools %}
{{ tool | tojson }}
{%- endfor %}<|im_end|>
{% endif %}
{%- for message in messages %}<|im_start|>{{ message['role'] }}
{% if message['content'] is string %}{{ message['content'] }}{% endif %}
{%- if message['tool_calls'] %}{% for call in message['tool_calls'] %}
<tool_call>
{{ call['function'] | tojson }}
</tool_call>{% endfor %}{% endif %}<|im_end|>
{% endfor %}{% if add_generation_prompt %}<|im_start|>assistant
{% endif %}"""


def byte_level_alphabet():
    """GPT-2's printable stand-ins for the 256 byte values, in byte order."""
    printable = list(range(ord("!"), ord("~") + 1)) + list(range(ord("¡"), ord("¬") + 1)) + list(range(ord("®"), ord("ÿ") + 1))
    codes, extra = {}, 0
    for b in range(256):
        if b in printable:
            codes[b] = chr(b)
        else:
            codes[b] = chr(256 + extra)
            extra += 1
    return [codes[b] for b in range(256)]


def tokenizer_json():
    vocab = {ch: i for i, ch in enumerate(byte_level_alphabet())}
    added = [{"id": 256 + i, "content": s, "single_word": False, "lstrip": False, "rstrip": False,
              "normalized": False, "special": True} for i, s in enumerate(SPECIALS)]
    added += [{"id": 256 + len(SPECIALS) + i, "content": s, "single_word": False, "lstrip": False, "rstrip": False,
               "normalized": False, "special": False} for i, s in enumerate(SCRIPT)]
    return {
        "version": "1.0", "truncation": None, "padding": None, "added_tokens": added, "normalizer": None,
        "pre_tokenizer": {"type": "ByteLevel", "add_prefix_space": False, "trim_offsets": True, "use_regex": True},
        "post_processor": None,
        "decoder": {"type": "ByteLevel", "add_prefix_space": True, "trim_offsets": True, "use_regex": True},
        "model": {"type": "BPE", "dropout": None, "unk_token": None, "continuing_subword_prefix": None,
                  "end_of_word_suffix": None, "fuse_unk": False, "byte_fallback": False, "ignore_merges": False,
                  "vocab": vocab, "merges": []},
    }


def write_safetensors(path, tensors):
    header, blobs, offset = {}, [], 0
    for name, (shape, values) in tensors.items():
        data = array("f", values).tobytes()
        header[name] = {"dtype": "F32", "shape": shape, "data_offsets": [offset, offset + len(data)]}
        blobs.append(data)
        offset += len(data)
    text = json.dumps(header, separators=(",", ":")).encode()
    text += b" " * (-len(text) % 8)
    with open(path, "wb") as f:
        f.write(struct.pack("<Q", len(text)) + text + b"".join(blobs))


def main():
    out = Path(sys.argv[1])
    out.mkdir(parents=True, exist_ok=True)
    vocab = 256 + len(SPECIALS) + len(SCRIPT)
    eos = SPECIALS.index("<|im_end|>") + 256
    script_ids = [256 + len(SPECIALS) + i for i in range(len(SCRIPT))]
    assert vocab <= HIDDEN
    successor = {t: script_ids[0] for t in range(vocab)}
    for a, b in zip(script_ids, script_ids[1:] + [eos]):
        successor[a] = b

    embed = [0.0] * (vocab * HIDDEN)
    for t in range(vocab):
        embed[t * HIDDEN + t] = 1.0
    head = [0.0] * (vocab * HIDDEN)
    for t, nxt in successor.items():
        head[nxt * HIDDEN + t] = 2.0
    zeros = lambda *shape: (list(shape), [0.0] * (shape[0] * shape[1]))
    ones = ([HIDDEN], [1.0] * HIDDEN)
    layer = "model.layers.0."
    write_safetensors(out / "model.safetensors", {
        "model.embed_tokens.weight": ([vocab, HIDDEN], embed),
        layer + "input_layernorm.weight": ones,
        layer + "self_attn.q_proj.weight": zeros(HIDDEN, HIDDEN),
        layer + "self_attn.k_proj.weight": zeros(HIDDEN, HIDDEN),
        layer + "self_attn.v_proj.weight": zeros(HIDDEN, HIDDEN),
        layer + "self_attn.o_proj.weight": zeros(HIDDEN, HIDDEN),
        layer + "post_attention_layernorm.weight": ones,
        layer + "mlp.gate_proj.weight": zeros(INTERMEDIATE, HIDDEN),
        layer + "mlp.up_proj.weight": zeros(INTERMEDIATE, HIDDEN),
        layer + "mlp.down_proj.weight": zeros(HIDDEN, INTERMEDIATE),
        "model.norm.weight": ones,
        "lm_head.weight": ([vocab, HIDDEN], head),
    })
    config = {
        "architectures": ["LlamaForCausalLM"], "model_type": "llama", "hidden_size": HIDDEN,
        "intermediate_size": INTERMEDIATE, "num_hidden_layers": 1, "num_attention_heads": HEADS,
        "num_key_value_heads": HEADS, "head_dim": HIDDEN // HEADS, "vocab_size": vocab, "rms_norm_eps": 1e-6,
        "rope_theta": 10000.0, "max_position_embeddings": 32768, "tie_word_embeddings": False,
        "hidden_act": "silu", "torch_dtype": "float32", "bos_token_id": None, "eos_token_id": eos,
    }
    (out / "config.json").write_text(json.dumps(config, indent=2))
    (out / "generation_config.json").write_text(json.dumps({"eos_token_id": eos}))
    (out / "tokenizer.json").write_text(json.dumps(tokenizer_json(), ensure_ascii=False))
    (out / "tokenizer_config.json").write_text(json.dumps({
        "eos_token": "<|im_end|>", "pad_token": "<|endoftext|>", "model_max_length": 32768,
        "chat_template": CHAT_TEMPLATE}, ensure_ascii=False, indent=2))
    (out / "script.json").write_text(json.dumps({"script": SCRIPT, "text": "".join(SCRIPT)}, ensure_ascii=False))


if __name__ == "__main__":
    main()
