#pragma once

#include "model/model_config.hpp"

#include <cstdint>
#include <string>
#include <string_view>
#include <vector>

namespace llmctl::engine {

// How tensor parallelism splits a tensor across GPUs (as vLLM's linear layers do).
enum class Sharding {
  replicated,     // norms, the bias of a row-parallel layer: every GPU holds all of it
  column,         // q, gate, up: rows (output features) split
  kv_column,      // k, v: rows split by kv head, replicated when TP exceeds the kv heads
  row,            // o, down: columns (input features) split
  vocab,          // embeddings and lm_head: vocabulary rows split (padded to 64 rows per GPU when TP > 1)
};

struct ExpectedTensor {
  std::string name;  // Hugging Face name, "model.layers.0.self_attn.q_proj.weight"
  std::vector<std::int64_t> shape;
  Sharding sharding;
  bool linear_weight;  // a projection matrix, the part that fp8/int4 quantization shrinks
};

// Every tensor a checkpoint of `config` holds, in checkpoint order (embeddings, layers, norm, lm_head).
std::vector<ExpectedTensor> expected_tensors(const ModelConfig& config);

std::uint64_t element_count(const std::vector<std::int64_t>& shape);

// Parameters implied by the config (the rotary inv_freq buffers are not parameters).
std::uint64_t parameter_count(const ModelConfig& config);

// Elements of `tensor` that one GPU holds at tensor-parallel degree `tp`.
std::uint64_t elements_per_gpu(const ExpectedTensor& tensor, const ModelConfig& config, int tp);

// Throws llmctl::Error in vLLM's words when the heads cannot be split over `tp` GPUs.
void check_tensor_parallel(const ModelConfig& config, int tp);

// How weights are stored on the GPU. fp8 and int4 shrink only the linear layers' weights; embeddings,
// lm_head, norms and biases stay 16-bit, as in vLLM's fp8 and AWQ/GPTQ checkpoints.
enum class WeightFormat { float32, bfloat16, float16, fp8, int4_g128 };

std::string_view weight_format_name(WeightFormat format);  // "bf16", "fp8", "int4 g128", ...

// Bytes of weights on each GPU at tensor-parallel degree `tp`.
std::uint64_t weight_bytes_per_gpu(const ModelConfig& config, int tp, WeightFormat format);

}  // namespace llmctl::engine
