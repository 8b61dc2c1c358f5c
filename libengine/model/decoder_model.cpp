#include "model/decoder_model.hpp"

#include "common/error.hpp"
#include "model/rope.hpp"

#include <fmt/format.h>

#include <algorithm>
#include <cmath>
#include <cstring>

namespace llmctl::engine {

DecoderModel::DecoderModel(const ModelConfig& config, ModelWeights weights, Backend& backend, const StepLimits& limits,
                           std::int64_t max_positions, bool graphs)
    : config_(config), weights_(std::move(weights)), backend_(backend), limits_(limits), max_positions_(max_positions),
      graphs_(graphs) {
  const std::int64_t max_tokens = limits.max_tokens, max_sequences = limits.max_sequences;
  const auto frequencies = rotary_frequencies(config);
  const auto table = rotary_cos_sin(frequencies, max_positions);
  // Every buffer here is one that runtime/forward_workspace.hpp plans for mem-estimate; a new one must be
  // counted there too.
  cos_sin_ = backend.allocate(DType::f32, max_positions, config.head_dim);
  backend.upload(cos_sin_, 0, HostTensor{DType::f32, {max_positions, config.head_dim}, std::as_bytes(std::span(table))});

  const DType dtype = backend.compute_dtype();
  const auto h = heads();
  backend.reserve_steps(limits, h, config.vocab_size);
  residual_ = backend.allocate(dtype, max_tokens, config.hidden_size);
  normed_ = backend.allocate(dtype, max_tokens, config.hidden_size);
  qkv_ = backend.allocate(dtype, max_tokens, h.q_width() + 2 * h.kv_width());
  attention_ = backend.allocate(dtype, max_tokens, h.q_width());
  projected_ = backend.allocate(dtype, max_tokens, config.hidden_size);
  gate_up_ = backend.allocate(dtype, max_tokens, 2 * config.intermediate_size);
  mlp_ = backend.allocate(dtype, max_tokens, config.intermediate_size);
  last_hidden_ = backend.allocate(dtype, max_sequences, config.hidden_size);
  last_normed_ = backend.allocate(dtype, max_sequences, config.hidden_size);
  logits_ = backend.allocate(DType::f32, max_sequences, config.vocab_size);
}

HeadLayout DecoderModel::heads() const { return {config_.num_attention_heads, config_.num_kv_heads, config_.head_dim}; }

std::vector<LayerKvCache> DecoderModel::allocate_kv_cache(std::int64_t num_blocks, std::int64_t block_size) const {
  std::vector<LayerKvCache> cache;
  const auto width = heads().kv_width();
  for (std::int64_t l = 0; l < config_.num_layers; ++l)
    cache.push_back({backend_.allocate(backend_.compute_dtype(), num_blocks * block_size, width),
                     backend_.allocate(backend_.compute_dtype(), num_blocks * block_size, width)});
  return cache;
}

std::uint64_t DecoderModel::kv_bytes_per_token() const {
  return 2ull * static_cast<std::uint64_t>(config_.num_layers * heads().kv_width()) * bits(backend_.compute_dtype()) / 8;
}

std::int64_t DecoderModel::graph_size(std::int64_t tokens) const {
  if (!graphs_) return 0;
  const std::int64_t size = tokens <= 2 ? tokens : tokens <= 4 ? 4 : (tokens + 7) / 8 * 8;
  return size <= std::min<std::int64_t>(limits_.max_sequences, 512) ? size : 0;
}

std::vector<std::int64_t> DecoderModel::graph_sizes() const {
  std::vector<std::int64_t> sizes;
  for (std::int64_t tokens = std::min<std::int64_t>(limits_.max_sequences, 512); tokens > 0; --tokens)
    if (const std::int64_t size = graph_size(tokens); size > 0 && (sizes.empty() || sizes.back() != size))
      sizes.push_back(size);
  return sizes;
}

void DecoderModel::capture_graphs(std::span<const LayerKvCache> cache, std::int32_t block_size) {
  StepBatch none;
  none.block_size = block_size;
  none.max_blocks_per_seq = 1;
  none.query_start = {0};
  for (const std::int64_t size : graph_sizes()) {
    // The host side of a step depends on its size alone (run_graph), so idle sequences stand for any.
    const StepBatch idle = padded_decode_batch(none, size);
    backend_.prepare_step(idle);
    backend_.capture_graph(size, [&] { enqueue_forward(idle, cache); });
  }
}

Tensor DecoderModel::forward(const StepBatch& batch, std::span<const LayerKvCache> cache) {
  const std::int64_t tokens = batch.num_tokens();
  const auto rows = static_cast<std::int64_t>(batch.logit_rows.size());
  if (tokens == 0 || tokens > limits_.max_tokens || rows > limits_.max_sequences)
    throw Error(fmt::format("internal: a step of {} tokens and {} sampled rows exceeds the planned {} and {}", tokens,
                            rows, limits_.max_tokens, limits_.max_sequences));
  for (const auto position : batch.positions)
    if (position < 0 || position >= max_positions_)
      throw Error(fmt::format("internal: position {} is outside [0, {})", position, max_positions_));

  const bool decode = tokens == batch.num_sequences() && rows == tokens;
  if (const std::int64_t size = decode ? graph_size(tokens) : 0) {
    const StepBatch padded = padded_decode_batch(batch, size);
    backend_.prepare_step(padded);
    backend_.run_graph(size, [&] { enqueue_forward(padded, cache); });
    return logits_.slice_rows(0, rows);  // the padding's rows come after the real ones
  }
  backend_.prepare_step(batch);
  return enqueue_forward(batch, cache);
}

Tensor DecoderModel::enqueue_forward(const StepBatch& batch, std::span<const LayerKvCache> cache) {
  const std::int64_t tokens = batch.num_tokens();
  const auto rows = static_cast<std::int64_t>(batch.logit_rows.size());
  const auto h = heads();
  const float eps = static_cast<float>(config_.rms_norm_eps);
  const float scale = 1.0f / std::sqrt(static_cast<float>(config_.head_dim));
  const std::int64_t window = config_.sliding_window.value_or(0);
  const Tensor residual = residual_.slice_rows(0, tokens);
  const Tensor normed = normed_.slice_rows(0, tokens);
  const Tensor qkv = qkv_.slice_rows(0, tokens);
  const Tensor attention = attention_.slice_rows(0, tokens);
  const Tensor projected = projected_.slice_rows(0, tokens);
  const Tensor gate_up = gate_up_.slice_rows(0, tokens);
  const Tensor mlp = mlp_.slice_rows(0, tokens);

  backend_.embed(weights_.embed_tokens, batch, residual);
  for (std::size_t l = 0; l < weights_.layers.size(); ++l) {
    const auto& w = weights_.layers[l];
    if (l == 0) {
      backend_.rms_norm(residual, w.input_norm, eps, normed);
      backend_.linear(normed, w.qkv, w.qkv_bias, qkv);
    } else {  // the previous layer's MLP output joins the residual
      backend_.add_rms_norm_linear(residual, projected, w.input_norm, eps, normed, w.qkv, w.qkv_bias, qkv);
    }
    if (w.q_norm) backend_.head_rms_norm(qkv, h, w.q_norm, w.k_norm, eps);
    const bool windowed = window > 0 && static_cast<std::int64_t>(l) >= config_.sliding_window_first_layer;
    backend_.attention(qkv, h, cos_sin_, cache[l], batch, scale, windowed ? window : 0, attention);
    backend_.linear(attention, w.o_proj, w.o_bias, projected);
    backend_.add_rms_norm_linear_silu_mul(residual, projected, w.post_attention_norm, eps, normed, w.gate_up,
                                          w.gate_up_bias, gate_up, mlp);
    backend_.linear(mlp, w.down, w.down_bias, projected);
  }
  if (rows == 0) return logits_.slice_rows(0, 0);
  // Only the sampled rows go through the final norm and lm_head.
  const Tensor last_residual = last_hidden_.slice_rows(0, rows);
  const Tensor last_mlp = last_normed_.slice_rows(0, rows);
  backend_.gather_logit_rows(residual, batch, last_residual);
  backend_.gather_logit_rows(projected, batch, last_mlp);
  // last_residual += last_mlp, normalized (into `normed`'s first rows) for lm_head.
  const Tensor final_hidden = normed_.slice_rows(0, rows);
  const Tensor out = logits_.slice_rows(0, rows);
  backend_.add_rms_norm_linear(last_residual, last_mlp, weights_.final_norm, eps, final_hidden, weights_.lm_head,
                               Tensor{}, out);
  return out;
}

}  // namespace llmctl::engine
