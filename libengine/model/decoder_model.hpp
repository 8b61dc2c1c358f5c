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
// With `graphs`, a decode step (one token per sequence, every one sampled) is padded to the next of
// vLLM's capture sizes and run as the backend's graph for that size.
class DecoderModel {
 public:
  DecoderModel(const ModelConfig& config, ModelWeights weights, Backend& backend, const StepLimits& limits,
               std::int64_t max_positions, bool graphs);

  const ModelConfig& config() const { return config_; }
  HeadLayout heads() const;

  // One KV cache per layer, `num_blocks` blocks of `block_size` tokens.
  std::vector<LayerKvCache> allocate_kv_cache(std::int64_t num_blocks, std::int64_t block_size) const;
  // Bytes one cached token takes over all layers (keys and values).
  std::uint64_t kv_bytes_per_token() const;

  // Runs one step: writes the new tokens' keys and values into `cache` and returns the logits of
  // batch.logit_rows, [rows, vocab] f32, in the backend's memory (valid until the next step).
  Tensor forward(const StepBatch& batch, std::span<const LayerKvCache> cache);

  // The graph size a decode step of `tokens` tokens is padded to (vLLM's capture sizes 1, 2, 4, then
  // multiples of 8 up to 512, within max_sequences); 0 when it runs without a graph.
  std::int64_t graph_size(std::int64_t tokens) const;
  // Every size graph_size() returns, largest first; none without graphs.
  std::vector<std::int64_t> graph_sizes() const;
  // Captures the graph of each of graph_sizes() over `cache` (blocks of `block_size` tokens), without
  // running it, so that no step pays for a capture.
  void capture_graphs(std::span<const LayerKvCache> cache, std::int32_t block_size);

 private:
  // Enqueues the layers, the final norm and lm_head; the logits of batch.logit_rows.
  Tensor enqueue_forward(const StepBatch& batch, std::span<const LayerKvCache> cache);

  ModelConfig config_;
  ModelWeights weights_;
  Backend& backend_;
  StepLimits limits_;
  std::int64_t max_positions_;
  bool graphs_;
  Tensor cos_sin_;
  // Activations, [max_tokens, width]; each step uses the first rows.
  Tensor residual_, normed_, qkv_, attention_, projected_, gate_up_, mlp_;
  Tensor last_hidden_, last_normed_, logits_;  // [max_sequences, width]
};

}  // namespace llmctl::engine
