#pragma once

#include <cstdint>
#include <optional>

namespace llmctl::engine {

// Whose defaults the limits take, as vLLM's UsageContext: its OpenAI server (`vllm serve`), or its LLM
// class, which `vllm bench` and offline scripts run and which takes larger steps.
enum class UsageContext { server, offline };

// The limits that size an engine's memory, with vLLM's names and defaults.
struct EngineLimits {
  std::int64_t max_model_len = 0;           // 0: the model's derived maximum
  std::int64_t max_num_seqs = 0;            // 0: chosen from the GPU, as vLLM does
  std::int64_t max_num_batched_tokens = 0;  // 0: chosen from the GPU, as vLLM does
  std::int64_t block_size = 16;
  double gpu_memory_utilization = 0.9;
  int tensor_parallel_size = 1;
  UsageContext usage = UsageContext::server;
};

// vLLM's default step size: 8192 tokens on GPUs of 70 GiB or more other than A100 (`large_gpu`), else
// 2048; twice as many offline.
std::int64_t default_max_num_batched_tokens(UsageContext usage, bool large_gpu);

// Fills the zero fields as vLLM does: max_model_len from the model; on GPUs with at least 70 GiB that are
// not A100s, 1024 sequences and 8192 batched tokens (16384 offline), else 256 and 2048 (8192 offline).
// Then checks every field and throws llmctl::Error with the flag name on a bad value.
EngineLimits resolve_limits(EngineLimits limits, std::int64_t model_max_len, std::uint64_t gpu_memory_bytes,
                            bool gpu_is_a100);

}  // namespace llmctl::engine
