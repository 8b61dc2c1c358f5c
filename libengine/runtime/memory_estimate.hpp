#pragma once

#include "model/model_config.hpp"
#include "model/weight_layout.hpp"
#include "runtime/engine_limits.hpp"
#include "runtime/memory_plan.hpp"

#include <nlohmann/json.hpp>

#include <cstdint>
#include <optional>
#include <string>
#include <vector>

namespace llmctl::engine {

struct MemoryEstimateRequest {
  std::string gpu;                          // a catalog id; empty: the local GPU, else h100-80g
  std::optional<double> gpu_memory_gib;     // overrides the GPU's memory
  EngineLimits limits;                      // zero fields take vLLM's defaults
  std::string dtype = "auto";               // auto, bfloat16, float16, float32
  std::string kv_cache_dtype = "auto";      // auto (the model dtype) or fp8
  bool enforce_eager = false;
};

struct WeightsRow {
  WeightFormat format;
  std::vector<std::pair<int, std::optional<std::uint64_t>>> bytes_per_tp;  // nullopt where TP cannot split the heads
};

// What mem-estimate answers: does it fit, how many requests at once, the longest request that fits.
struct MemoryEstimate {
  ModelConfig config;
  std::uint64_t parameters;
  std::string gpu_name;
  std::string gpu_source;  // "--gpu h100-80g", "--gpu-memory", "detected"
  std::uint64_t gpu_memory;
  WeightFormat weight_format;
  std::string kv_cache_dtype;
  EngineLimits limits;  // resolved
  std::vector<WeightsRow> weights_table;
  MemoryPlan plan;
  std::vector<std::string> suggestions;  // flags that make it fit, or that use it best

  nlohmann::json to_json() const;
};

// Applies to `config` the accounting that sizes the real KV pool, with estimates where the server
// measures. Bad flags and impossible TP splits are llmctl::Error.
MemoryEstimate estimate_memory(const ModelConfig& config, const MemoryEstimateRequest& request);

}  // namespace llmctl::engine
