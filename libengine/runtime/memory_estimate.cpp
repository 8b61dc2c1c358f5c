#include "runtime/memory_estimate.hpp"

#include "backend/device_query.hpp"
#include "common/error.hpp"
#include "runtime/gpu_catalog.hpp"

#include <fmt/format.h>

#include <cmath>

namespace llmctl::engine {
namespace {

constexpr double GiB = 1024.0 * 1024.0 * 1024.0;

WeightFormat resolve_weight_format(const ModelConfig& config, const std::string& dtype) {
  if (dtype != "auto" && dtype != "bfloat16" && dtype != "float16" && dtype != "half" && dtype != "float32" &&
      dtype != "float")
    throw Error(fmt::format("--dtype must be auto, bfloat16, float16 or float32 (got '{}')", dtype));
  // A quantized checkpoint stays quantized on the GPU, whatever dtype the activations use.
  if (const auto& quantization = config.quantization_config; quantization.is_object()) {
    const auto method = quantization.value("quant_method", std::string());
    const auto bits = quantization.value("bits", 0);
    if ((method == "awq" || method == "gptq") && bits == 4) return WeightFormat::int4_g128;
    if (method == "fp8") return WeightFormat::fp8;
    throw Error(fmt::format("quantization '{}' ({} bits) in config.json is not supported (supported: awq and gptq "
                            "with 4 bits, fp8)",
                            method, bits));
  }
  if (dtype == "bfloat16") return WeightFormat::bfloat16;
  if (dtype == "float16" || dtype == "half") return WeightFormat::float16;
  if (dtype == "float32" || dtype == "float") return WeightFormat::float32;
  // As vLLM: bf16 checkpoints run in bf16; fp32 and fp16 ones (or no dtype given) in fp16.
  return config.dtype == DType::bf16 ? WeightFormat::bfloat16 : WeightFormat::float16;
}

// Float32 models compute in float32; all others, quantized ones included, in 16 bits.
unsigned activation_bytes(WeightFormat format) { return format == WeightFormat::float32 ? 4 : 2; }

// auto: the activation dtype.
unsigned kv_dtype_bytes(const std::string& kv_cache_dtype, WeightFormat format) {
  if (kv_cache_dtype == "auto") return activation_bytes(format);
  if (kv_cache_dtype == "fp8") return 1;
  throw Error(fmt::format("--kv-cache-dtype must be auto or fp8 (got '{}')", kv_cache_dtype));
}

struct GpuChoice {
  std::string name;
  std::string source;
  std::uint64_t memory;
  bool is_a100;
};

GpuChoice choose_gpu(const MemoryEstimateRequest& request) {
  GpuChoice choice;
  if (!request.gpu.empty()) {
    const auto& gpu = find_gpu(request.gpu);
    choice = {std::string(gpu.name), fmt::format("--gpu {}", gpu.id), gpu.memory_bytes, gpu.is_a100};
  } else if (const auto device = query_device(0)) {
    choice = {device->name, "detected", device->total_memory, device->name.find("A100") != std::string::npos};
  } else {
    const auto& gpu = find_gpu("h100-80g");
    choice = {std::string(gpu.name), "no GPU found here; assumed --gpu h100-80g", gpu.memory_bytes, gpu.is_a100};
  }
  if (request.gpu_memory_gib) {
    if (!(*request.gpu_memory_gib > 0) || *request.gpu_memory_gib > 1e6)
      throw Error(fmt::format("--gpu-memory must be a positive number of GiB (got {})", *request.gpu_memory_gib));
    choice.memory = static_cast<std::uint64_t>(*request.gpu_memory_gib * GiB);
    choice.source = "--gpu-memory";
    if (request.gpu.empty()) choice.name = fmt::format("a GPU with {:.2f} GiB", *request.gpu_memory_gib);
  }
  return choice;
}

MemoryPlan plan_for(const ModelConfig& config, EngineLimits limits, WeightFormat format, unsigned kv_bytes,
                    std::uint64_t gpu_memory, bool enforce_eager) {
  const auto weights = weight_bytes_per_gpu(config, limits.tensor_parallel_size, format);
  const auto usage = estimate_memory_usage(config, limits, weights, activation_bytes(format), enforce_eager);
  return plan_memory(gpu_memory, limits.gpu_memory_utilization, usage, kv_cache_layout(config, limits, kv_bytes),
                     limits.max_model_len);
}

bool tp_possible(const ModelConfig& config, int tp) {
  try {
    check_tensor_parallel(config, tp);
    return true;
  } catch (const Error&) {
    return false;
  }
}

}  // namespace

MemoryEstimate estimate_memory(const ModelConfig& config, const MemoryEstimateRequest& request) {
  const GpuChoice gpu = choose_gpu(request);
  check_tensor_parallel(config, request.limits.tensor_parallel_size);
  MemoryEstimate estimate{config, parameter_count(config), gpu.name, gpu.source, gpu.memory,
                          resolve_weight_format(config, request.dtype), request.kv_cache_dtype,
                          resolve_limits(request.limits, config.derived_max_model_len(), gpu.memory, gpu.is_a100),
                          {}, {}, {}};
  const unsigned kv_bytes = kv_dtype_bytes(request.kv_cache_dtype, estimate.weight_format);
  const int tp = estimate.limits.tensor_parallel_size;

  for (const auto format : {estimate.weight_format, WeightFormat::fp8, WeightFormat::int4_g128}) {
    WeightsRow row{format, {}};
    for (const int degree : {1, 2, 4, 8}) {
      row.bytes_per_tp.emplace_back(degree, tp_possible(config, degree)
                                                ? std::optional(weight_bytes_per_gpu(config, degree, format))
                                                : std::nullopt);
    }
    estimate.weights_table.push_back(row);
  }

  estimate.plan = plan_for(config, estimate.limits, estimate.weight_format, kv_bytes, gpu.memory, request.enforce_eager);
  const auto& plan = estimate.plan;
  if (plan.fits()) {
    estimate.suggestions.push_back(fmt::format("--max-model-len {} --gpu-memory-utilization {:g}{}",
                                               estimate.limits.max_model_len, estimate.limits.gpu_memory_utilization,
                                               tp > 1 ? fmt::format(" --tensor-parallel-size {}", tp) : ""));
    return estimate;
  }
  // It does not fit: name each single change that makes it fit.
  if (plan.num_blocks > 0)
    estimate.suggestions.push_back(fmt::format("--max-model-len {} (the longest request that fits)", plan.kv_tokens()));
  if (kv_bytes > 1) {
    const auto fp8 = plan_for(config, estimate.limits, estimate.weight_format, 1, gpu.memory, request.enforce_eager);
    if (fp8.fits()) estimate.suggestions.push_back("--kv-cache-dtype fp8 (halves the KV cache)");
  }
  for (const int degree : {2, 4, 8}) {
    if (degree <= tp || !tp_possible(config, degree)) continue;
    EngineLimits wider = estimate.limits;
    wider.tensor_parallel_size = degree;
    if (plan_for(config, wider, estimate.weight_format, kv_bytes, gpu.memory, request.enforce_eager).fits()) {
      estimate.suggestions.push_back(fmt::format("--tensor-parallel-size {}", degree));
      break;
    }
  }
  for (const auto format : {WeightFormat::fp8, WeightFormat::int4_g128}) {
    if (plan_for(config, estimate.limits, format, kv_bytes, gpu.memory, request.enforce_eager).fits()) {
      estimate.suggestions.push_back(fmt::format("an {} quantized checkpoint of this model", weight_format_name(format)));
      break;
    }
  }
  return estimate;
}

nlohmann::json MemoryEstimate::to_json() const {
  nlohmann::json weights = nlohmann::json::array();
  for (const auto& row : weights_table) {
    nlohmann::json per_tp = nlohmann::json::object();
    for (const auto& [degree, bytes] : row.bytes_per_tp)
      per_tp[std::to_string(degree)] = bytes ? nlohmann::json(*bytes) : nlohmann::json(nullptr);
    weights.push_back({{"format", weight_format_name(row.format)}, {"bytes_per_gpu_by_tp", per_tp}});
  }
  return {
      {"architecture", config.architecture},
      {"parameters", parameters},
      {"gpu", {{"name", gpu_name}, {"source", gpu_source}, {"memory_bytes", gpu_memory}}},
      {"dtype", weight_format_name(weight_format)},
      {"kv_cache_dtype", kv_cache_dtype},
      {"tensor_parallel_size", limits.tensor_parallel_size},
      {"max_model_len", limits.max_model_len},
      {"max_num_seqs", limits.max_num_seqs},
      {"max_num_batched_tokens", limits.max_num_batched_tokens},
      {"block_size", limits.block_size},
      {"gpu_memory_utilization", limits.gpu_memory_utilization},
      {"weights", weights},
      {"budget",
       {{"total_bytes", plan.total_memory},
        {"budget_bytes", plan.budget},
        {"weights_bytes", plan.usage.weights},
        {"activations_bytes", plan.usage.activations},
        {"runtime_bytes", plan.usage.runtime},
        {"cuda_graphs_bytes", plan.usage.cuda_graphs},
        {"kv_cache_bytes", plan.kv_cache_bytes}}},
      {"kv_cache",
       {{"bytes_per_token", plan.kv.bytes_per_token()},
        {"num_blocks", plan.num_blocks},
        {"tokens", plan.kv_tokens()},
        {"max_concurrency", plan.max_concurrency()},
        {"longest_request_tokens", plan.kv_tokens()}}},
      {"fits", plan.fits()},
      {"suggestions", suggestions},
  };
}

}  // namespace llmctl::engine
