#pragma once

#include "model/model_config.hpp"
#include "runtime/engine_limits.hpp"

#include <cstdint>

namespace llmctl::engine {

// The device buffers of one forward step and sampling, per GPU, sized for the largest step the limits
// allow (max_num_batched_tokens tokens over max_num_seqs sequences, positions up to max_model_len).
// DecoderModel and the CUDA backend allocate these once at start-up, never on the hot path, and
// mem-estimate reports the same sum, so the estimate and the engine cannot drift apart; only the step
// inputs are rounded (a few hundred KB at most).
struct ForwardWorkspace {
  std::uint64_t residual = 0;         // [tokens, hidden]: the residual stream
  std::uint64_t normed = 0;           // [tokens, hidden]: RMSNorm output, GEMM input
  std::uint64_t qkv = 0;              // [tokens, (q + 2 kv heads) * head_dim]
  std::uint64_t attention = 0;        // [tokens, q heads * head_dim]
  std::uint64_t projected = 0;        // [tokens, hidden]: o and down projections, added into the residual
  std::uint64_t gate_up = 0;          // [tokens, 2 * intermediate]
  std::uint64_t mlp = 0;              // [tokens, intermediate]: SiLU(gate) * up
  std::uint64_t sampled_rows = 0;     // 2 x [seqs, hidden]: the sampled tokens' residual and MLP output
  std::uint64_t logits = 0;           // [seqs, vocab] fp32
  std::uint64_t rotary = 0;           // [max_model_len, head_dim] fp32: cos and sin of every position
  std::uint64_t attention_split = 0;  // decode split-KV partial results (kAttentionSplitBytes)
  std::uint64_t sampling = 0;         // per sampled row: request, result, partial results over vocabulary slices
  std::uint64_t step_inputs = 0;      // token ids, positions, slots, block tables, lengths, attention work lists
  std::uint64_t gemm = 0;             // cuBLASLt workspace

  std::uint64_t total() const;
};

inline constexpr std::uint64_t kGemmWorkspaceBytes = 32ull << 20;  // NVIDIA's recommendation for Hopper
// Decode attention splits long contexts over as many parts as this holds (kernels/paged_attention.cu):
// about 12 MB at most on a GPU of 132 multiprocessors.
inline constexpr std::uint64_t kAttentionSplitBytes = 16ull << 20;
// The GPU sampler's slice of a row, in logits (kSliceElements of kernels/sampling.cu): the CUDA backend
// refuses to start if the sampler's workspace and sampling_bytes() disagree.
inline constexpr std::int64_t kSamplingSlice = 8192;

// The bans and penalties the GPU sampler takes in one draw (Backend::SampleAdjustment: one per distinct
// token of a penalized row's prompt and output): 2048 a row on average. Rows beyond go to the host
// sampler.
inline constexpr std::int64_t kSampleAdjustmentsPerRow = 2048;
std::int64_t max_sample_adjustments(std::int64_t rows);

// What the GPU sampler needs for `rows` rows of `vocab` logits: a 56-byte request and a 4-byte result
// per row, their adjustments (8 bytes each), and the kernel's workspace (a 4-byte counter and an 8-byte
// winner per slice).
std::uint64_t sampling_bytes(std::int64_t rows, std::int64_t vocab);

// `activation_bytes` is the size of the compute dtype (2 for bf16/fp16).
ForwardWorkspace plan_forward_workspace(const ModelConfig& config, const EngineLimits& limits,
                                        unsigned activation_bytes);

}  // namespace llmctl::engine
