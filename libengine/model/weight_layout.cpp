#include "model/weight_layout.hpp"

#include "common/error.hpp"

#include <fmt/format.h>

#include <algorithm>

namespace llmctl::engine {

std::vector<ExpectedTensor> expected_tensors(const ModelConfig& c) {
  const std::int64_t q_out = c.num_attention_heads * c.head_dim;
  const std::int64_t kv_out = c.num_kv_heads * c.head_dim;
  std::vector<ExpectedTensor> tensors;
  const auto add = [&](std::string name, std::vector<std::int64_t> shape, Sharding sharding, bool linear = false) {
    tensors.push_back({std::move(name), std::move(shape), sharding, linear});
  };

  add("model.embed_tokens.weight", {c.vocab_size, c.hidden_size}, Sharding::vocab);
  for (std::int64_t i = 0; i < c.num_layers; ++i) {
    const std::string p = fmt::format("model.layers.{}.", i);
    add(p + "input_layernorm.weight", {c.hidden_size}, Sharding::replicated);
    add(p + "self_attn.q_proj.weight", {q_out, c.hidden_size}, Sharding::column, true);
    if (c.qkv_bias) add(p + "self_attn.q_proj.bias", {q_out}, Sharding::column);
    add(p + "self_attn.k_proj.weight", {kv_out, c.hidden_size}, Sharding::kv_column, true);
    if (c.qkv_bias) add(p + "self_attn.k_proj.bias", {kv_out}, Sharding::kv_column);
    add(p + "self_attn.v_proj.weight", {kv_out, c.hidden_size}, Sharding::kv_column, true);
    if (c.qkv_bias) add(p + "self_attn.v_proj.bias", {kv_out}, Sharding::kv_column);
    add(p + "self_attn.o_proj.weight", {c.hidden_size, q_out}, Sharding::row, true);
    if (c.o_bias) add(p + "self_attn.o_proj.bias", {c.hidden_size}, Sharding::replicated);
    if (c.qk_norm) {
      add(p + "self_attn.q_norm.weight", {c.head_dim}, Sharding::replicated);
      add(p + "self_attn.k_norm.weight", {c.head_dim}, Sharding::replicated);
    }
    add(p + "post_attention_layernorm.weight", {c.hidden_size}, Sharding::replicated);
    add(p + "mlp.gate_proj.weight", {c.intermediate_size, c.hidden_size}, Sharding::column, true);
    if (c.mlp_bias) add(p + "mlp.gate_proj.bias", {c.intermediate_size}, Sharding::column);
    add(p + "mlp.up_proj.weight", {c.intermediate_size, c.hidden_size}, Sharding::column, true);
    if (c.mlp_bias) add(p + "mlp.up_proj.bias", {c.intermediate_size}, Sharding::column);
    add(p + "mlp.down_proj.weight", {c.hidden_size, c.intermediate_size}, Sharding::row, true);
    if (c.mlp_bias) add(p + "mlp.down_proj.bias", {c.hidden_size}, Sharding::replicated);
  }
  add("model.norm.weight", {c.hidden_size}, Sharding::replicated);
  if (!c.tie_word_embeddings) add("lm_head.weight", {c.vocab_size, c.hidden_size}, Sharding::vocab);
  return tensors;
}

std::uint64_t element_count(const std::vector<std::int64_t>& shape) {
  std::uint64_t count = 1;
  for (const auto dim : shape) count *= static_cast<std::uint64_t>(dim);
  return count;
}

std::uint64_t parameter_count(const ModelConfig& config) {
  std::uint64_t total = 0;
  for (const auto& tensor : expected_tensors(config)) total += element_count(tensor.shape);
  return total;
}

std::uint64_t elements_per_gpu(const ExpectedTensor& tensor, const ModelConfig& config, int tp) {
  const std::uint64_t total = element_count(tensor.shape);
  const auto gpus = static_cast<std::uint64_t>(tp);
  const std::uint64_t rest = total / static_cast<std::uint64_t>(tensor.shape[0]);  // elements per row
  switch (tensor.sharding) {
    case Sharding::replicated:
      return total;
    case Sharding::column:
      return total / gpus;
    case Sharding::kv_column: {
      const std::int64_t kv_heads_per_gpu = std::max<std::int64_t>(1, config.num_kv_heads / tp);
      return static_cast<std::uint64_t>(kv_heads_per_gpu * config.head_dim) * rest;
    }
    case Sharding::row:
      return total / gpus;
    case Sharding::vocab: {
      const std::uint64_t rows = static_cast<std::uint64_t>(tensor.shape[0]);
      if (tp == 1) return total;
      const std::uint64_t padded_rows_per_gpu = (rows + 64 * gpus - 1) / (64 * gpus) * 64;
      return padded_rows_per_gpu * rest;
    }
  }
  return total;
}

void check_tensor_parallel(const ModelConfig& config, int tp) {
  if (tp < 1) throw Error(fmt::format("--tensor-parallel-size must be positive (got {})", tp));
  if (config.num_attention_heads % tp != 0)
    throw Error(fmt::format("Total number of attention heads ({}) must be divisible by tensor parallel size ({}).",
                            config.num_attention_heads, tp));
  if (config.num_kv_heads % tp != 0 && tp % config.num_kv_heads != 0)
    throw Error(fmt::format("Total number of key/value heads ({}) and tensor parallel size ({}) must divide one another.",
                            config.num_kv_heads, tp));
  if (config.intermediate_size % tp != 0)
    throw Error(fmt::format("intermediate_size ({}) must be divisible by tensor parallel size ({}).",
                            config.intermediate_size, tp));
}

std::string_view weight_format_name(WeightFormat format) {
  switch (format) {
    case WeightFormat::float32: return "fp32";
    case WeightFormat::bfloat16: return "bf16";
    case WeightFormat::float16: return "fp16";
    case WeightFormat::fp8: return "fp8";
    case WeightFormat::int4_g128: return "int4 g128";
  }
  return "?";
}

std::uint64_t weight_bytes_per_gpu(const ModelConfig& config, int tp, WeightFormat format) {
  std::uint64_t bytes = 0;
  for (const auto& tensor : expected_tensors(config)) {
    const std::uint64_t elements = elements_per_gpu(tensor, config, tp);
    if (format == WeightFormat::float32) {
      bytes += elements * 4;
    } else if (!tensor.linear_weight || format == WeightFormat::bfloat16 || format == WeightFormat::float16) {
      bytes += elements * 2;
    } else if (format == WeightFormat::fp8) {
      bytes += elements + 4;  // one fp32 scale per tensor
    } else {
      // 4-bit values plus, per group of 128, an fp16 scale and a 4-bit zero point: 4.15625 bits.
      bytes += (elements * 133 + 255) / 256;
    }
  }
  return bytes;
}

}  // namespace llmctl::engine
