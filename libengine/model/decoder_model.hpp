#pragma once

#include "backend/backend.hpp"
#include "model/model_config.hpp"
#include "model/model_weights.hpp"

#include <cstdint>
#include <span>
#include <vector>

namespace llmctl::engine {

// The Llama-family decoder (Llama, Mistral, Qwen2, Qwen3) written once against the Backend operations:
// embeddings, then per layer RMSNorm, fused qkv projection (+ bias), per-head q/k RMSNorm (Qwen3), RoPE,
// paged attention, o projection, residual, RMSNorm, SiLU-gated MLP, residual; then the final norm and
// lm_head for the rows that sample. Activation buffers are allocated once, for the largest step.
class DecoderModel {
 public:
  DecoderModel(const ModelConfig& config, ModelWeights weights, Backend& backend, std::int64_t max_tokens,
               std::int64_t max_sequences, std::int64_t max_positions);

  const ModelConfig& config() const { return config_; }
  HeadLayout heads() const;

  // One KV cache per layer, `num_blocks` blocks of `block_size` tokens.
  std::vector<LayerKvCache> allocate_kv_cache(std::int64_t num_blocks, std::int64_t block_size) const;
  // Bytes one cached token takes over all layers (keys and values).
  std::uint64_t kv_bytes_per_token() const;

  // Runs one step: writes the new tokens' keys and values into `cache` and returns the logits of
  // batch.logit_rows, [rows, vocab] f32, in the backend's memory (valid until the next step).
  Tensor forward(const StepBatch& batch, std::span<const LayerKvCache> cache);

 private:
  ModelConfig config_;
  ModelWeights weights_;
  Backend& backend_;
  std::int64_t max_tokens_;
  std::int64_t max_positions_;
  Tensor cos_sin_;
  // Activations, [max_tokens, width]; each step uses the first rows.
  Tensor residual_, normed_, qkv_, attention_, projected_, gate_up_, mlp_;
  Tensor last_hidden_, last_normed_, logits_;  // [max_sequences, width]
};

}  // namespace llmctl::engine
