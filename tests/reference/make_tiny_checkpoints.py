#!/usr/bin/env python3
"""Writes tiny random-weight checkpoints of each supported architecture with transformers'
save_pretrained, plus what the reference libraries say about them, into tests/fixtures/tiny-models/.

Run on the GPU machine (transformers and safetensors installed, no network needed):
    python3 tests/reference/make_tiny_checkpoints.py OUTPUT_DIR
The C++ tests then check that llmctl reads the same tensors, shapes, dtypes and parameter counts.
"""
import json
import os
import sys

import torch
import transformers
from safetensors import safe_open

COMMON = dict(hidden_size=64, intermediate_size=128, num_hidden_layers=2, num_attention_heads=4,
              num_key_value_heads=2, vocab_size=320, max_position_embeddings=512, rms_norm_eps=1e-6)

MODELS = {
    # name: (config class, extra config, dtype, max_shard_size or None)
    "tiny-llama3": (transformers.LlamaConfig, dict(
        rope_theta=500000.0, bos_token_id=1, eos_token_id=[2, 3],
        rope_scaling=dict(rope_type="llama3", factor=8.0, low_freq_factor=1.0, high_freq_factor=4.0,
                          original_max_position_embeddings=64)), torch.bfloat16, None),
    "tiny-qwen2": (transformers.Qwen2Config, dict(tie_word_embeddings=True, rope_theta=1000000.0),
                   torch.float32, None),
    "tiny-qwen3": (transformers.Qwen3Config, dict(head_dim=32, rope_theta=1000000.0), torch.bfloat16,
                   "60KB"),
    "tiny-mistral": (transformers.MistralConfig, dict(sliding_window=None), torch.float16, None),
}


def main(out_dir):
    torch.manual_seed(0)
    for name, (config_class, extra, dtype, shard) in MODELS.items():
        config = config_class(**COMMON, **extra)
        model = transformers.AutoModelForCausalLM.from_config(config).to(dtype)
        folder = os.path.join(out_dir, name)
        kwargs = {"max_shard_size": shard} if shard else {}
        model.save_pretrained(folder, safe_serialization=True, **kwargs)
        tensors = {}
        for file in sorted(f for f in os.listdir(folder) if f.endswith(".safetensors")):
            with safe_open(os.path.join(folder, file), "pt") as reader:
                for key in reader.keys():
                    t = reader.get_slice(key)
                    tensors[key] = {"dtype": t.get_dtype(), "shape": t.get_shape(), "file": file}
        expected = {
            "transformers_version": transformers.__version__,
            "num_parameters": model.num_parameters(),
            "tensors": tensors,
        }
        with open(os.path.join(folder, "expected.json"), "w") as f:
            json.dump(expected, f, indent=1, sort_keys=True)
        print(name, model.num_parameters(), "parameters,", len(tensors), "tensors,", sorted(os.listdir(folder)))


if __name__ == "__main__":
    main(sys.argv[1])
