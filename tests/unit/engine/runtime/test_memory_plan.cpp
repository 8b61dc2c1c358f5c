#include "runtime/memory_plan.hpp"

#include "common/error.hpp"
#include "runtime/forward_workspace.hpp"
#include "support/test_files.hpp"

#include <doctest/doctest.h>

using namespace llmctl::engine;
using doctest::Contains;

namespace {

constexpr std::uint64_t GiB = 1ull << 30;
constexpr std::uint64_t MiB = 1ull << 20;

ModelConfig reference(const std::string& name) {
  return load_model_config(llmctl::test::kFixtures / "configs" / name);
}

EngineLimits limits(int tp = 1) {
  EngineLimits l;
  l.max_model_len = 32768;
  l.max_num_seqs = 1024;
  l.max_num_batched_tokens = 8192;
  l.tensor_parallel_size = tp;
  return l;
}

}  // namespace

TEST_CASE("KV bytes per token") {
  // 2 (K and V) x layers x kv heads x head_dim x 2 bytes.
  CHECK(kv_cache_layout(reference("Qwen--Qwen2.5-7B-Instruct"), limits(), 2).bytes_per_token() == 57'344);
  CHECK(kv_cache_layout(reference("meta-llama--Llama-3.1-8B-Instruct"), limits(), 2).bytes_per_token() == 131'072);
  CHECK(kv_cache_layout(reference("Qwen--Qwen3-8B"), limits(), 2).bytes_per_token() == 147'456);
  CHECK(kv_cache_layout(reference("meta-llama--Llama-3.1-70B-Instruct"), limits(), 2).bytes_per_token() == 327'680);
  CHECK(kv_cache_layout(reference("Qwen--Qwen2.5-7B-Instruct"), limits(), 1).bytes_per_token() == 28'672);  // fp8
  // TP splits kv heads, down to one per GPU (then replicated).
  CHECK(kv_cache_layout(reference("Qwen--Qwen2.5-7B-Instruct"), limits(2), 2).bytes_per_token() == 28'672);
  CHECK(kv_cache_layout(reference("meta-llama--Llama-3.1-70B-Instruct"), limits(16), 2).bytes_per_token() == 40'960);
  CHECK(kv_cache_layout(reference("Qwen--Qwen2.5-7B-Instruct"), limits(), 2).bytes_per_block() == 917'504);
}

TEST_CASE("the budget is a fraction of total memory; the rest after weights, activations and runtime is KV") {
  const auto kv = kv_cache_layout(reference("Qwen--Qwen2.5-7B-Instruct"), limits(), 2);
  MemoryUsage usage{15'231'233'024, 3 * GiB, 600 * MiB, 128 * MiB};
  const auto plan = plan_memory(80 * GiB, 0.9, usage, kv, 32768);
  CHECK(plan.budget == 77'309'411'328);  // 72 GiB
  CHECK(plan.kv_cache_bytes == 77'309'411'328 - 15'231'233'024 - 3 * static_cast<std::int64_t>(GiB) - 728 * static_cast<std::int64_t>(MiB));
  CHECK(plan.num_blocks == plan.kv_cache_bytes / 917'504);
  CHECK(plan.kv_tokens() == plan.num_blocks * 16);
  CHECK(plan.blocks_per_request() == 2048);
  CHECK(plan.fits());
  CHECK(plan.max_concurrency() == doctest::Approx(static_cast<double>(plan.num_blocks) / 2048));
  CHECK_NOTHROW(check_kv_capacity(plan));
}

TEST_CASE("vLLM's sanity case: Llama-3.1-8B with 2.89 GiB of KV cache holds 1478 blocks of 2 MiB") {
  const auto kv = kv_cache_layout(reference("meta-llama--Llama-3.1-8B-Instruct"), limits(), 2);
  CHECK(kv.bytes_per_block() == 2 * MiB);
  MemoryUsage usage{5 * GiB + 5, 0, 0, 0};
  const auto plan = plan_memory(5 * GiB + 5 + 1479 * 2 * MiB - 1, 1.0, usage, kv, 32768);  // one byte short of 1479
  CHECK(plan.num_blocks == 1478);
  CHECK(plan.kv_tokens() == 23'648);  // the number in vLLM issue 10517's error message
  CHECK_FALSE(plan.fits());
  CHECK_THROWS_WITH_AS(check_kv_capacity(plan),
                       Contains("To serve at least one request with the model's max seq len (32768), 4.00 GiB KV cache is needed, "
                                "which is larger than the available KV cache memory (2.89 GiB). Based on the available memory, "
                                "the estimated maximum model length is 23648."),
                       llmctl::Error);
}

TEST_CASE("no room at all for the KV cache") {
  const auto kv = kv_cache_layout(reference("meta-llama--Llama-3.1-70B-Instruct"), limits(), 2);
  const auto plan = plan_memory(80 * GiB, 0.9, {141 * GiB, 3 * GiB, 600 * MiB, 0}, kv, 131072);
  CHECK(plan.kv_cache_bytes < 0);
  CHECK(plan.num_blocks == 0);
  CHECK_THROWS_WITH_AS(check_kv_capacity(plan), Contains("No available memory for the cache blocks"), llmctl::Error);
}

TEST_CASE("the engine's share must be free at start, whatever other processes hold (vLLM V1)") {
  // Two engines at 0.45 on one 80 GiB GPU: the second finds 43.5 GiB free, 36 GiB requested.
  CHECK_NOTHROW(check_free_memory(80 * GiB - 36 * GiB - 500 * MiB, 80 * GiB, 0.45));
  CHECK_NOTHROW(check_free_memory(36 * GiB, 80 * GiB, 0.45));
  CHECK_THROWS_WITH_AS(check_free_memory(36 * GiB - 1, 80 * GiB, 0.45),
                       "Free memory on device (36.00/80.00 GiB) on startup is less than desired GPU memory utilization "
                       "(0.45, 36.00 GiB). Decrease GPU memory utilization or reduce GPU memory used by other processes.",
                       llmctl::Error);
}

TEST_CASE("the forward workspace, buffer by buffer, for Qwen2.5-7B at vLLM's H100 defaults") {
  const auto w = plan_forward_workspace(reference("Qwen--Qwen2.5-7B-Instruct"), limits(), 2);
  CHECK(w.residual == 8192ull * 3584 * 2);
  CHECK(w.normed == 8192ull * 3584 * 2);
  CHECK(w.qkv == 8192ull * (28 + 2 * 4) * 128 * 2);
  CHECK(w.attention == 8192ull * 28 * 128 * 2);
  CHECK(w.projected == 8192ull * 3584 * 2);
  CHECK(w.gate_up == 8192ull * 2 * 18944 * 2);
  CHECK(w.mlp == 8192ull * 18944 * 2);
  CHECK(w.sampled_rows == 2ull * 1024 * 3584 * 2);
  CHECK(w.logits == 1024ull * 152064 * 4);
  CHECK(w.rotary == 32768ull * 128 * 4);
  CHECK(w.attention_split == 16 * MiB);
  // 152,064 logits are 19 slices of 8,192: a request, a result, a counter and 19 slice winners a row,
  // and room for 2048 adjustments (bans and penalties) a row.
  CHECK(w.sampling == 1024ull * (56 + 4 + 4 + 19 * 8) + 1024ull * 2048 * 8);
  CHECK(w.step_inputs == 8192ull * 24 + 1024ull * (2048 + 3) * 4 + (8192ull + 1024 + 1) * 16);
  CHECK(w.gemm == 32 * MiB);
  CHECK(w.total() == 1'971'900'432);
  // The estimate of what the server will use is that workspace plus the measured runtime and graphs.
  const auto usage = estimate_memory_usage(reference("Qwen--Qwen2.5-7B-Instruct"), limits(), 42, 2, false);
  CHECK(usage.weights == 42);
  CHECK(usage.activations == w.total());
  CHECK(usage.runtime == kRuntimeBytesPerGpu);
  CHECK(usage.cuda_graphs == kCudaGraphBytes);
  CHECK(estimate_memory_usage(reference("Qwen--Qwen2.5-7B-Instruct"), limits(2), 42, 2, true).runtime ==
        kRuntimeBytesPerGpu + kTensorParallelRuntimeBytes);
  CHECK(estimate_memory_usage(reference("Qwen--Qwen2.5-7B-Instruct"), limits(), 42, 2, true).cuda_graphs == 0);
}
