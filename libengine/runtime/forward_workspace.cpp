#include "runtime/forward_workspace.hpp"

#include <algorithm>

namespace llmctl::engine {

std::uint64_t ForwardWorkspace::total() const {
  return residual + normed + qkv + attention + attention_split + gate_up + mlp + logits + sampling + step_inputs +
         gemm;
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
  w.attention_split = seqs * q_heads * kDecodeAttentionMaxSplits * (head_dim + 2) * 4;
  w.gate_up = tokens * 2 * intermediate * a;
  w.mlp = tokens * intermediate * a;
  w.logits = seqs * vocab * 4;
  w.sampling = seqs * vocab * 4;
  // token ids, positions, slot mapping (4 bytes each per token); block table, lengths per sequence.
  w.step_inputs = tokens * 3 * 4 + seqs * (blocks_per_seq + 4) * 4;
  w.gemm = kGemmWorkspaceBytes;
  return w;
}

}  // namespace llmctl::engine
