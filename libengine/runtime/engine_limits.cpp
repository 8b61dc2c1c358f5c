#include "runtime/engine_limits.hpp"

#include "common/error.hpp"

#include <fmt/format.h>

namespace llmctl::engine {

std::int64_t default_max_num_batched_tokens(UsageContext usage, bool large_gpu) {
  if (usage == UsageContext::offline) return large_gpu ? 16384 : 8192;
  return large_gpu ? 8192 : 2048;
}

EngineLimits resolve_limits(EngineLimits limits, std::int64_t model_max_len, std::uint64_t gpu_memory_bytes,
                            bool gpu_is_a100) {
  const bool large_gpu = gpu_memory_bytes >= 70ull * 1024 * 1024 * 1024 && !gpu_is_a100;
  if (limits.max_model_len == 0) limits.max_model_len = model_max_len;
  if (limits.max_num_batched_tokens == 0)
    limits.max_num_batched_tokens = default_max_num_batched_tokens(limits.usage, large_gpu);
  if (limits.max_num_seqs == 0) limits.max_num_seqs = large_gpu ? 1024 : 256;

  if (limits.max_model_len < 1) throw Error(fmt::format("--max-model-len must be positive (got {})", limits.max_model_len));
  if (limits.max_model_len > model_max_len)
    throw Error(fmt::format("--max-model-len {} is larger than the model's maximum length {} (max_position_embeddings "
                            "and rope scaling in config.json)",
                            limits.max_model_len, model_max_len));
  if (limits.max_num_seqs < 1) throw Error(fmt::format("--max-num-seqs must be positive (got {})", limits.max_num_seqs));
  if (limits.max_num_batched_tokens < limits.max_num_seqs)
    throw Error(fmt::format("--max-num-batched-tokens ({}) must be at least --max-num-seqs ({})",
                            limits.max_num_batched_tokens, limits.max_num_seqs));
  if (limits.block_size < 1 || limits.block_size > 256 || (limits.block_size & (limits.block_size - 1)) != 0)
    throw Error(fmt::format("--block-size must be a power of two from 1 to 256 (got {})", limits.block_size));
  if (!(limits.gpu_memory_utilization > 0.0 && limits.gpu_memory_utilization <= 1.0))
    throw Error(fmt::format("--gpu-memory-utilization must be in (0, 1] (got {})", limits.gpu_memory_utilization));
  if (limits.tensor_parallel_size < 1)
    throw Error(fmt::format("--tensor-parallel-size must be positive (got {})", limits.tensor_parallel_size));
  return limits;
}

}  // namespace llmctl::engine
