#include "runtime/forward_workspace.hpp"

#include <algorithm>

namespace llmctl::engine {

std::uint64_t ForwardWorkspace::total() const {
  return residual + normed + qkv + attention + projected + gate_up + mlp + sampled_rows + logits + rotary +
         attention_split + sampling + step_inputs + gemm;
}

std::int64_t max_sample_adjustments(std::int64_t rows) { return rows * kSampleAdjustmentsPerRow; }

std::uint64_t sampling_bytes(std::int64_t rows, std::int64_t vocab) {
  const auto slices = static_cast<std::uint64_t>((vocab + kSamplingSlice - 1) / kSamplingSlice);
  return static_cast<std::uint64_t>(rows) * (56 + 4 + 4 + slices * 8) +
         static_cast<std::uint64_t>(max_sample_adjustments(rows)) * 8;
}

ForwardWorkspace plan_forward_workspace(const ModelConfig& config, const EngineLimits& limits,
                                        unsigned activation_bytes) {
  const auto tp = static_cast<std::uint64_t>(limits.tensor_parallel_size);
  const auto tokens = static_cast<std::uint64_t>(limits.max_num_batched_tokens);
  const auto seqs = static_cast<std::uint64_t>(limits.max_num_seqs);
  const auto a = static_cast<std::uint64_t>(activation_bytes);
  const auto hidden = static_cast<std::uint64_t>(config.hidden_size);
  const auto head_dim = static_cast<std::uint64_t>(config.head_dim);
  const auto q_heads = static_cast<std::uint64_t>(config.num_attention_heads) / tp;
  const auto kv_heads = static_cast<std::uint64_t>(std::max<std::int64_t>(1, config.num_kv_heads / limits.tensor_parallel_size));
  const auto intermediate = static_cast<std::uint64_t>(config.intermediate_size) / tp;
  const auto vocab = static_cast<std::uint64_t>(config.vocab_size);
  const auto blocks_per_seq =
      static_cast<std::uint64_t>((limits.max_model_len + limits.block_size - 1) / limits.block_size);

  ForwardWorkspace w;
  w.residual = tokens * hidden * a;
  w.normed = tokens * hidden * a;
  w.qkv = tokens * (q_heads + 2 * kv_heads) * head_dim * a;
  w.attention = tokens * q_heads * head_dim * a;
  w.projected = tokens * hidden * a;
  w.gate_up = tokens * 2 * intermediate * a;
  w.mlp = tokens * intermediate * a;
  w.sampled_rows = 2 * seqs * hidden * a;
  w.logits = seqs * vocab * 4;
  w.rotary = static_cast<std::uint64_t>(limits.max_model_len) * head_dim * 4;
  w.attention_split = kAttentionSplitBytes;
  w.sampling = sampling_bytes(limits.max_num_seqs, config.vocab_size);
  // token ids, positions, sequence of each token and prefill rows (4 bytes each), slot mapping (8); per
  // sequence its block table, context length, logit row and decode row (4 bytes each); prefill tiles (16
  // bytes each, fewer than one per token plus one per sequence).
  w.step_inputs = tokens * 24 + seqs * (blocks_per_seq + 3) * 4 + (tokens + seqs + 1) * 16;
  w.gemm = kGemmWorkspaceBytes;
  return w;
}

}  // namespace llmctl::engine
