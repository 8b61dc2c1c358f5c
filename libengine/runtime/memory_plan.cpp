#include "runtime/memory_plan.hpp"

#include "common/error.hpp"
#include "runtime/forward_workspace.hpp"

#include <fmt/format.h>

#include <algorithm>

namespace llmctl::engine {
namespace {

double gib(double bytes) { return bytes / (1024.0 * 1024.0 * 1024.0); }

}  // namespace

MemoryUsage estimate_memory_usage(const ModelConfig& config, const EngineLimits& limits, std::uint64_t weight_bytes,
                                  unsigned activation_bytes, bool enforce_eager) {
  MemoryUsage usage;
  usage.weights = weight_bytes;
  usage.activations = plan_forward_workspace(config, limits, activation_bytes).total();
  usage.runtime = kRuntimeBytesPerGpu + (limits.tensor_parallel_size > 1 ? kTensorParallelRuntimeBytes : 0);
  usage.cuda_graphs = enforce_eager ? 0 : kCudaGraphBytes;
  return usage;
}

void check_free_memory(std::uint64_t free_memory, std::uint64_t total_memory, double utilization) {
  const double requested = static_cast<double>(total_memory) * utilization;
  if (static_cast<double>(free_memory) < requested)
    throw Error(fmt::format("Free memory on device ({:.2f}/{:.2f} GiB) on startup is less than desired GPU memory "
                            "utilization ({}, {:.2f} GiB). Decrease GPU memory utilization or reduce GPU memory used by "
                            "other processes.",
                            gib(static_cast<double>(free_memory)), gib(static_cast<double>(total_memory)), utilization,
                            gib(requested)));
}

std::uint64_t KvCacheLayout::bytes_per_token() const {
  return 2ull * static_cast<std::uint64_t>(num_layers * kv_heads_per_gpu * head_dim) * dtype_bytes;
}

KvCacheLayout kv_cache_layout(const ModelConfig& config, const EngineLimits& limits, unsigned kv_dtype_bytes) {
  return {config.num_layers, std::max<std::int64_t>(1, config.num_kv_heads / limits.tensor_parallel_size),
          config.head_dim, kv_dtype_bytes, limits.block_size};
}

std::int64_t MemoryPlan::blocks_per_request() const { return (max_model_len + kv.block_size - 1) / kv.block_size; }

double MemoryPlan::max_concurrency() const {
  return static_cast<double>(num_blocks) / static_cast<double>(blocks_per_request());
}

MemoryPlan plan_memory(std::uint64_t total_memory, double utilization, const MemoryUsage& usage,
                       const KvCacheLayout& kv, std::int64_t max_model_len) {
  MemoryPlan plan{total_memory, utilization, 0, usage, kv, 0, 0, max_model_len};
  plan.budget = static_cast<std::uint64_t>(static_cast<double>(total_memory) * utilization);
  plan.kv_cache_bytes = static_cast<std::int64_t>(plan.budget) - static_cast<std::int64_t>(usage.total());
  plan.num_blocks = std::max<std::int64_t>(0, plan.kv_cache_bytes) / static_cast<std::int64_t>(kv.bytes_per_block());
  return plan;
}

std::optional<std::string> kv_capacity_problem(const MemoryPlan& plan) {
  if (plan.num_blocks <= 0)
    return fmt::format(
        "No available memory for the cache blocks: {:.2f} GiB x {:.2f} = {:.2f} GiB, but weights, activations and "
        "runtime need {:.2f} GiB. Try increasing --gpu-memory-utilization, lowering --max-num-batched-tokens or "
        "--max-num-seqs, or adding GPUs with --tensor-parallel-size.",
        gib(static_cast<double>(plan.total_memory)), plan.utilization, gib(static_cast<double>(plan.budget)),
        gib(static_cast<double>(plan.usage.total())));
  if (!plan.fits())
    return fmt::format(
        "To serve at least one request with the model's max seq len ({}), {:.2f} GiB KV cache is needed, which is "
        "larger than the available KV cache memory ({:.2f} GiB). Based on the available memory, the estimated maximum "
        "model length is {}. Try increasing --gpu-memory-utilization or decreasing --max-model-len.",
        plan.max_model_len,
        gib(static_cast<double>(plan.blocks_per_request()) * static_cast<double>(plan.kv.bytes_per_block())),
        gib(static_cast<double>(plan.kv_cache_bytes)), plan.kv_tokens());
  return std::nullopt;
}

void check_kv_capacity(const MemoryPlan& plan) {
  if (auto problem = kv_capacity_problem(plan)) throw Error(*problem);
}

}  // namespace llmctl::engine
