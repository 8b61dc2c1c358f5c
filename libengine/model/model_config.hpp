#pragma once

#include "weights/dtype.hpp"

#include <nlohmann/json.hpp>

#include <cstdint>
#include <filesystem>
#include <optional>
#include <string>
#include <string_view>
#include <vector>

namespace llmctl::engine {

// The decoder-only families the engine runs. DeepSeek-R1-Distill models are Qwen2 or Llama.
enum class ModelFamily { llama, mistral, qwen2, qwen3 };

struct RopeScaling {
  std::string type = "default";  // default (none), linear, dynamic, llama3, yarn
  double factor = 1.0;
  double low_freq_factor = 1.0;   // llama3
  double high_freq_factor = 4.0;  // llama3
  std::optional<std::int64_t> original_max_position_embeddings;  // llama3, yarn
  double beta_fast = 32.0;                                        // yarn
  double beta_slow = 1.0;                                         // yarn
  std::optional<double> attention_factor;                         // yarn ("mscale" scaling of logits)
};

struct ModelConfig {
  std::string architecture;  // as config.json names it, "Qwen2ForCausalLM"
  ModelFamily family;
  std::string model_type;

  std::int64_t hidden_size;
  std::int64_t intermediate_size;
  std::int64_t num_layers;
  std::int64_t num_attention_heads;
  std::int64_t num_kv_heads;
  std::int64_t head_dim;  // config's head_dim when given, else hidden_size / num_attention_heads
  std::int64_t vocab_size;
  std::int64_t max_position_embeddings;

  double rms_norm_eps;
  double rope_theta;
  RopeScaling rope_scaling;

  bool tie_word_embeddings;
  bool qkv_bias;  // Qwen2 always; Llama/Qwen3 with attention_bias
  bool o_bias;    // Llama/Qwen3 with attention_bias
  bool mlp_bias;  // Llama with mlp_bias
  bool qk_norm;   // Qwen3: RMSNorm on q and k per head

  // Sliding-window attention as the model applies it: the window and the first layer that uses it.
  std::optional<std::int64_t> sliding_window;
  std::int64_t sliding_window_first_layer = 0;

  std::optional<DType> dtype;  // torch_dtype (or transformers 5's "dtype")
  std::optional<std::int64_t> bos_token_id;
  std::vector<std::int64_t> eos_token_ids;
  nlohmann::json quantization_config;  // null when the checkpoint is not quantized

  // Longest sequence the model supports, derived as vLLM does: max_position_embeddings, times the rope
  // scaling factor for linear/dynamic/yarn scaling (llama3 scaling is already in the config).
  std::int64_t derived_max_model_len() const;
};

// The architectures names accepted in config.json, for messages: "LlamaForCausalLM, ...".
std::string supported_architectures();

// Parses a config.json object. Unknown architectures, missing or ill-typed fields and inconsistent
// shapes are llmctl::Error naming `origin`.
ModelConfig parse_model_config(const nlohmann::json& config, std::string_view origin = "config.json");

// A rope_scaling (or rope_parameters) object: "rope_type" (or "type"), "factor" and the fields of its type.
RopeScaling parse_rope_scaling(const nlohmann::json& rope, std::string_view origin);

// Reads `folder`/config.json.
ModelConfig load_model_config(const std::filesystem::path& folder);

}  // namespace llmctl::engine
