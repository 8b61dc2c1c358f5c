#pragma once

#include <cstdint>
#include <optional>

namespace llmctl::engine {

// The limits that size an engine's memory, with vLLM's names and defaults.
struct EngineLimits {
  std::int64_t max_model_len = 0;           // 0: the model's derived maximum
  std::int64_t max_num_seqs = 0;            // 0: chosen from the GPU, as vLLM does
  std::int64_t max_num_batched_tokens = 0;  // 0: chosen from the GPU, as vLLM does
  std::int64_t block_size = 16;
  double gpu_memory_utilization = 0.9;
  int tensor_parallel_size = 1;
};

// Fills the zero fields as `vllm serve` does: max_model_len from the model; on GPUs with at least
// 70 GiB that are not A100s, 8192 batched tokens and 1024 sequences, else 2048 and 256. Then checks
// every field and throws llmctl::Error with the flag name on a bad value.
EngineLimits resolve_limits(EngineLimits limits, std::int64_t model_max_len, std::uint64_t gpu_memory_bytes,
                            bool gpu_is_a100);

}  // namespace llmctl::engine
