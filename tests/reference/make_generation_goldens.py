#!/usr/bin/env python3
"""Writes tiny random-weight fp32 models of each architecture the engine runs, with a small byte-level BPE
tokenizer and chat template, plus what transformers computes with them: greedy continuations with the
top-5 logprobs of every step, and the rotary frequencies. Into tests/fixtures/generation/<model>/.

Run on the GPU machine (torch, transformers and tokenizers installed; no network needed):
    python3 tests/reference/make_generation_goldens.py tests/fixtures/generation
The engine's tests then check that llmctl generates the same tokens wherever transformers' top-1/top-2
margin exceeds 1e-3, with logprobs within 1e-4. Everything is computed in fp32 on the CPU (no TF32).
"""
import json
import os
import random
import sys

import tokenizers
import torch
import transformers
from tokenizers import decoders, models, pre_tokenizers, trainers

COMMON = dict(hidden_size=64, intermediate_size=128, num_hidden_layers=2, num_attention_heads=4,
              num_key_value_heads=2, vocab_size=320, max_position_embeddings=512, rms_norm_eps=1e-6,
              # Large enough weights that the logits have clear winners (transformers' default 0.02 gives
              # near-uniform logits, and ties are not a test of anything).
              initializer_range=0.15, bos_token_id=None, eos_token_id=2, pad_token_id=None)

MODELS = {
    # name: (config class, extra config, safetensors?)
    "llama3": (transformers.LlamaConfig, dict(
        rope_theta=500000.0, rope_scaling=dict(rope_type="llama3", factor=8.0, low_freq_factor=1.0,
                                               high_freq_factor=4.0, original_max_position_embeddings=64)), True),
    # DeepSeek-R1-Distill-Qwen models are this architecture (Qwen2ForCausalLM) with other sizes.
    "qwen2-yarn": (transformers.Qwen2Config, dict(
        tie_word_embeddings=True, rope_theta=1000000.0,
        rope_scaling=dict(rope_type="yarn", factor=4.0, original_max_position_embeddings=128)), True),
    "qwen3": (transformers.Qwen3Config, dict(head_dim=32, rope_theta=1000000.0), True),
    "mistral-window": (transformers.MistralConfig, dict(sliding_window=48, rope_theta=1000000.0), True),
    # A PyTorch .bin checkpoint (zip + pickle), with linear rope scaling.
    "llama-linear-bin": (transformers.LlamaConfig, dict(
        rope_theta=10000.0, rope_scaling=dict(rope_type="linear", factor=2.0)), False),
}

SPECIAL = ["<|endoftext|>", "<|im_start|>", "<|im_end|>"]  # ids 0, 1, 2
CHAT_TEMPLATE = ("{% for message in messages %}<|im_start|>{{ message['role'] }}\n{{ message['content'] }}<|im_end|>\n"
                 "{% endfor %}{% if add_generation_prompt %}<|im_start|>assistant\n{% endif %}")
TRAINING_TEXT = __doc__ * 4 + " ".join(str(i) for i in range(200)) + " héllo wörld 你好 世界 🙂 " * 5

PROMPT_LENGTHS = [1, 2, 7, 16, 17, 64, 200, 300]
TEXT_PROMPTS = ["Hello world", "Write a poem about the sea.", "你好"]
GREEDY_STEPS = 24


def make_tokenizer():
    tok = tokenizers.Tokenizer(models.BPE())
    tok.pre_tokenizer = pre_tokenizers.ByteLevel(add_prefix_space=False)
    tok.decoder = decoders.ByteLevel()
    trainer = trainers.BpeTrainer(vocab_size=COMMON["vocab_size"], special_tokens=SPECIAL, min_frequency=1,
                                  initial_alphabet=pre_tokenizers.ByteLevel.alphabet(), show_progress=False)
    tok.train_from_iterator([TRAINING_TEXT], trainer)
    assert tok.get_vocab_size() <= COMMON["vocab_size"], tok.get_vocab_size()
    fast = transformers.PreTrainedTokenizerFast(tokenizer_object=tok, eos_token="<|im_end|>",
                                                pad_token="<|endoftext|>", model_max_length=512)
    fast.chat_template = CHAT_TEMPLATE
    return fast


@torch.no_grad()
def greedy(model, prompt):
    ids = list(prompt)
    steps = []
    for _ in range(GREEDY_STEPS):
        logits = model(torch.tensor([ids])).logits[0, -1].float()
        logprobs = torch.log_softmax(logits, dim=-1)
        top = torch.topk(logprobs, 5)
        steps.append({"token": int(top.indices[0]),
                      "margin": float(top.values[0] - top.values[1]),
                      "top": [[int(i), float(v)] for i, v in zip(top.indices, top.values)]})
        ids.append(int(top.indices[0]))
    return steps


def main(out_dir):
    torch.manual_seed(0)
    torch.backends.cuda.matmul.allow_tf32 = False
    torch.set_num_threads(1)  # one summation order
    rng = random.Random(0)
    tokenizer = make_tokenizer()
    for name, (config_class, extra, safetensors) in MODELS.items():
        config = config_class(**COMMON, **extra)
        model = transformers.AutoModelForCausalLM.from_config(config).float().eval()
        folder = os.path.join(out_dir, name)
        model.save_pretrained(folder)
        if not safetensors:
            # transformers 5 writes only safetensors; older checkpoints are torch.save'd state dicts.
            os.remove(os.path.join(folder, "model.safetensors"))
            torch.save(model.state_dict(), os.path.join(folder, "pytorch_model.bin"))
        tokenizer.save_pretrained(folder)
        cases = []
        for length in PROMPT_LENGTHS:
            prompt = [rng.randrange(COMMON["vocab_size"]) for _ in range(length)]
            cases.append({"name": f"random-{length}", "prompt_token_ids": prompt, "greedy": greedy(model, prompt)})
        for text in TEXT_PROMPTS:
            prompt = tokenizer.encode(text)
            cases.append({"name": f"text-{len(prompt)}", "prompt": text, "prompt_token_ids": prompt,
                          "greedy": greedy(model, prompt)})
        chat = tokenizer.apply_chat_template([{"role": "user", "content": "Hi there"}], tokenize=False,
                                             add_generation_prompt=True)
        chat_ids = tokenizer.encode(chat)
        cases.append({"name": "chat", "chat_user_message": "Hi there", "prompt": chat, "prompt_token_ids": chat_ids,
                      "greedy": greedy(model, chat_ids)})
        for case in cases:
            case["greedy_text"] = tokenizer.decode([s["token"] for s in case["greedy"]])
        rotary = model.model.rotary_emb
        expected = {
            "transformers_version": transformers.__version__,
            "torch_version": torch.__version__,
            "rotary": {"inv_freq": [float(f) for f in rotary.inv_freq], "attention_scaling": float(rotary.attention_scaling)},
            "cases": cases,
        }
        with open(os.path.join(folder, "expected.json"), "w") as f:
            json.dump(expected, f, indent=1)
        small = sum(1 for c in cases for s in c["greedy"] if s["margin"] <= 1e-3)
        print(name, model.num_parameters(), "parameters,", sorted(os.listdir(folder)), f"{small} steps with margin <= 1e-3")


if __name__ == "__main__":
    main(sys.argv[1])
