#pragma once

#include "model/model_config.hpp"
#include "runtime/engine_limits.hpp"

#include <cstdint>
#include <optional>
#include <string>

namespace llmctl::engine {

// Per-GPU memory that is not KV cache. The server fills it from measurements (cudaMemGetInfo around
// loading, the workspace, graph capture); mem-estimate fills it from estimate_memory_usage().
struct MemoryUsage {
  std::uint64_t weights = 0;
  std::uint64_t activations = 0;  // the forward workspace
  std::uint64_t runtime = 0;      // CUDA context, cuBLAS handles, NCCL buffers
  std::uint64_t cuda_graphs = 0;  // 0 with --enforce-eager
  std::uint64_t total() const { return weights + activations + runtime + cuda_graphs; }
};

// Memory a process needs outside its own buffers: the CUDA context (527 MiB) and cuBLAS after its
// first GEMM (595 MiB in all), measured by tests/gpu on an H200 (docs/benchmarks.md), rounded up.
inline constexpr std::uint64_t kRuntimeBytesPerGpu = 640ull << 20;
// NCCL communicators and their buffers when tensor parallelism is on (vLLM logs show ~0.5 GiB).
inline constexpr std::uint64_t kTensorParallelRuntimeBytes = 512ull << 20;
// Decode CUDA graphs replay into the preallocated workspace, so they hold only their own launch state.
inline constexpr std::uint64_t kCudaGraphBytes = 128ull << 20;

MemoryUsage estimate_memory_usage(const ModelConfig& config, const EngineLimits& limits, std::uint64_t weight_bytes,
                                  unsigned activation_bytes, bool enforce_eager);

struct KvCacheLayout {
  std::int64_t num_layers;
  std::int64_t kv_heads_per_gpu;  // kv heads / TP, at least 1 (replicated when TP exceeds them)
  std::int64_t head_dim;
  unsigned dtype_bytes;
  std::int64_t block_size;

  std::uint64_t bytes_per_token() const;  // K and V of every layer
  std::uint64_t bytes_per_block() const { return bytes_per_token() * static_cast<std::uint64_t>(block_size); }
};

KvCacheLayout kv_cache_layout(const ModelConfig& config, const EngineLimits& limits, unsigned kv_dtype_bytes);

// vLLM's accounting: budget = total x utilization; KV cache = budget - everything else, cut into blocks.
struct MemoryPlan {
  std::uint64_t total_memory;
  double utilization;
  std::uint64_t budget;
  MemoryUsage usage;
  KvCacheLayout kv;
  std::int64_t kv_cache_bytes;  // negative when the rest does not even fit
  std::int64_t num_blocks;
  std::int64_t max_model_len;

  std::int64_t kv_tokens() const { return num_blocks * kv.block_size; }
  std::int64_t blocks_per_request() const;  // blocks one max_model_len request needs
  bool fits() const { return num_blocks >= blocks_per_request(); }
  // How many requests of max_model_len tokens fit at once ("Maximum concurrency ... : 4.68x").
  double max_concurrency() const;
};

MemoryPlan plan_memory(std::uint64_t total_memory, double utilization, const MemoryUsage& usage,
                       const KvCacheLayout& kv, std::int64_t max_model_len);

// vLLM V1's start-up condition: total x utilization must be free when the engine starts, so that memory
// other processes hold is refused up front rather than counted as this engine's (two engines at 0.45
// share a GPU). Throws llmctl::Error with vLLM's message.
void check_free_memory(std::uint64_t free_memory, std::uint64_t total_memory, double utilization);

// In vLLM's words, why the plan cannot hold one max_model_len request (naming the largest length that
// fits and the flags that would help); nullopt when it can.
std::optional<std::string> kv_capacity_problem(const MemoryPlan& plan);

// Throws kv_capacity_problem() as an llmctl::Error.
void check_kv_capacity(const MemoryPlan& plan);

}  // namespace llmctl::engine
