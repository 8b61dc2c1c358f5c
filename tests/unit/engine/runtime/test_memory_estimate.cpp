#include "runtime/memory_estimate.hpp"

#include "common/error.hpp"
#include "runtime/forward_workspace.hpp"
#include "runtime/gpu_catalog.hpp"
#include "support/test_files.hpp"

#include <doctest/doctest.h>

#include <algorithm>

using namespace llmctl::engine;
using doctest::Contains;

namespace {

ModelConfig reference(const std::string& name) {
  return load_model_config(llmctl::test::kFixtures / "configs" / name);
}

MemoryEstimateRequest on(const std::string& gpu) {
  MemoryEstimateRequest request;
  request.gpu = gpu;
  return request;
}

bool suggests(const MemoryEstimate& estimate, const std::string& text) {
  return std::any_of(estimate.suggestions.begin(), estimate.suggestions.end(),
                     [&](const std::string& s) { return s.find(text) != std::string::npos; });
}

}  // namespace

TEST_CASE("Qwen2.5-7B on an H100: every term of the budget, by hand") {
  const auto config = reference("Qwen--Qwen2.5-7B-Instruct");
  const auto e = estimate_memory(config, on("h100"));
  const auto& gpu = find_gpu("h100-80g");
  CHECK(e.gpu_memory == gpu.memory_bytes);
  CHECK(e.limits.max_model_len == 32768);
  CHECK(e.limits.max_num_seqs == 1024);
  CHECK(e.limits.max_num_batched_tokens == 8192);
  CHECK(e.plan.budget == static_cast<std::uint64_t>(static_cast<double>(gpu.memory_bytes) * 0.9));
  CHECK(e.plan.usage.weights == 15'231'233'024);
  CHECK(e.plan.usage.activations == plan_forward_workspace(config, e.limits, 2).total());
  CHECK(e.plan.kv.bytes_per_token() == 57'344);
  const auto kv = static_cast<std::int64_t>(e.plan.budget) - 15'231'233'024 - 1'971'900'432 -
                  static_cast<std::int64_t>(kRuntimeBytesPerGpu + kCudaGraphBytes);
  CHECK(e.plan.kv_cache_bytes == kv);
  CHECK(e.plan.num_blocks == kv / 917'504);
  CHECK(e.plan.fits());
  CHECK(e.plan.max_concurrency() > 30);
  CHECK(suggests(e, "--max-model-len 32768 --gpu-memory-utilization 0.9"));
  const auto json = e.to_json();
  CHECK(json["fits"] == true);
  CHECK(json["kv_cache"]["bytes_per_token"] == 57'344);
  CHECK(json["weights"][0]["format"] == "bf16");
  CHECK(json["weights"][0]["bytes_per_gpu_by_tp"]["8"].is_null());  // 28 heads do not split 8 ways
}

TEST_CASE("Llama-3.1-70B does not fit one H100; the estimate names what would") {
  const auto e = estimate_memory(reference("meta-llama--Llama-3.1-70B-Instruct"), on("h100-80g"));
  CHECK_FALSE(e.plan.fits());
  CHECK(e.plan.num_blocks == 0);
  CHECK(suggests(e, "--tensor-parallel-size 4"));
  // int4 weights (37 GiB) leave ~30 GiB of KV cache: short of one 131,072-token request (40 GiB)...
  CHECK_FALSE(suggests(e, "int4 g128"));
  CHECK_FALSE(suggests(e, "--kv-cache-dtype fp8"));
  // ...but enough at 32K.
  auto shorter = on("h100-80g");
  shorter.limits.max_model_len = 32768;
  CHECK(suggests(estimate_memory(reference("meta-llama--Llama-3.1-70B-Instruct"), shorter), "int4 g128"));
  auto request = on("h200");
  request.limits.tensor_parallel_size = 2;
  CHECK(estimate_memory(reference("meta-llama--Llama-3.1-70B-Instruct"), request).plan.fits());
}

TEST_CASE("a model that fits only with a shorter context or an fp8 KV cache") {
  auto request = on("l4");
  request.limits.max_model_len = 131072;
  const auto e = estimate_memory(reference("meta-llama--Llama-3.1-8B-Instruct"), request);
  CHECK_FALSE(e.plan.fits());
  CHECK(e.plan.num_blocks > 0);
  CHECK(suggests(e, "--max-model-len " + std::to_string(e.plan.kv_tokens())));
  request.kv_cache_dtype = "fp8";
  const auto fp8 = estimate_memory(reference("meta-llama--Llama-3.1-8B-Instruct"), request);
  CHECK(fp8.plan.kv.bytes_per_token() == 65'536);
}

TEST_CASE("--gpu-memory, dtype choices and bad requests") {
  auto request = on("");
  request.gpu_memory_gib = 24.0;
  const auto e = estimate_memory(reference("Qwen--Qwen2.5-0.5B-Instruct"), request);
  CHECK(e.gpu_memory == 24ull << 30);
  CHECK(e.gpu_source == "--gpu-memory");
  CHECK(e.limits.max_num_seqs == 256);  // under 70 GiB

  request.dtype = "float32";
  const auto fp32 = estimate_memory(reference("Qwen--Qwen2.5-0.5B-Instruct"), request);
  CHECK(fp32.plan.usage.weights == 4ull * 494'032'768);
  CHECK(fp32.plan.kv.bytes_per_token() == 24'576);  // the KV cache follows the float32 activations

  CHECK_THROWS_WITH_AS(estimate_memory(reference("Qwen--Qwen2.5-7B-Instruct"), on("h1OO")),
                       Contains("unknown GPU 'h1OO'; did you mean"), llmctl::Error);
  auto tp = on("h100");
  tp.limits.tensor_parallel_size = 8;
  CHECK_THROWS_WITH_AS(estimate_memory(reference("Qwen--Qwen2.5-7B-Instruct"), tp),
                       Contains("must be divisible by tensor parallel size (8)"), llmctl::Error);
  auto memory = on("");
  memory.gpu_memory_gib = -3;
  CHECK_THROWS_WITH_AS(estimate_memory(reference("Qwen--Qwen2.5-7B-Instruct"), memory), Contains("--gpu-memory must be a positive"), llmctl::Error);
  auto kv = on("h100");
  kv.kv_cache_dtype = "int2";
  CHECK_THROWS_AS(estimate_memory(reference("Qwen--Qwen2.5-7B-Instruct"), kv), llmctl::Error);
}

TEST_CASE("quantized checkpoints are sized as they load") {
  auto awq = reference("meta-llama--Llama-3.1-8B-Instruct");
  awq.quantization_config = {{"quant_method", "awq"}, {"bits", 4}, {"group_size", 128}};
  const auto e = estimate_memory(awq, on("l4"));
  CHECK(e.weight_format == WeightFormat::int4_g128);
  CHECK(e.plan.usage.weights == weight_bytes_per_gpu(awq, 1, WeightFormat::int4_g128));
  CHECK(e.plan.kv.bytes_per_token() == 131'072);  // activations and KV stay 16-bit
  auto fp8 = awq;
  fp8.quantization_config = {{"quant_method", "fp8"}};
  CHECK(estimate_memory(fp8, on("l4")).weight_format == WeightFormat::fp8);
  auto bnb = awq;
  bnb.quantization_config = {{"quant_method", "bitsandbytes"}, {"bits", 4}};
  CHECK_THROWS_WITH_AS(estimate_memory(bnb, on("l4")), Contains("quantization 'bitsandbytes' (4 bits) in config.json is not supported"), llmctl::Error);
}
