#pragma once

#include "model/model_config.hpp"
#include "runtime/engine_limits.hpp"

#include <cstdint>

namespace llmctl::engine {

// The device buffers of one forward step and sampling, per GPU, sized for the largest step the limits
// allow (max_num_batched_tokens tokens over max_num_seqs sequences). The CUDA backend allocates exactly
// these once at start-up and never on the hot path; mem-estimate reports the same figure, so the two
// cannot drift apart.
struct ForwardWorkspace {
  std::uint64_t residual = 0;         // [tokens, hidden]: the residual stream
  std::uint64_t normed = 0;           // [tokens, hidden]: RMSNorm output, GEMM input
  std::uint64_t qkv = 0;              // [tokens, (q + 2 kv heads) * head_dim]
  std::uint64_t attention = 0;        // [tokens, q heads * head_dim]
  std::uint64_t attention_split = 0;  // decode split-KV partials: [seqs, q heads, splits, head_dim + 2] fp32
  std::uint64_t gate_up = 0;          // [tokens, 2 * intermediate]
  std::uint64_t mlp = 0;              // [tokens, intermediate]: SiLU(gate) * up
  std::uint64_t logits = 0;           // [seqs, vocab] fp32
  std::uint64_t sampling = 0;         // [seqs, vocab] fp32 probabilities for top-k/top-p/min-p
  std::uint64_t step_inputs = 0;      // token ids, positions, slot mapping, block tables, lengths
  std::uint64_t gemm = 0;             // cuBLASLt workspace

  std::uint64_t total() const;
};

inline constexpr int kDecodeAttentionMaxSplits = 16;
inline constexpr std::uint64_t kGemmWorkspaceBytes = 32ull << 20;  // NVIDIA's recommendation for Hopper

// `activation_bytes` is the size of the compute dtype (2 for bf16/fp16).
ForwardWorkspace plan_forward_workspace(const ModelConfig& config, const EngineLimits& limits,
                                        unsigned activation_bytes);

}  // namespace llmctl::engine
