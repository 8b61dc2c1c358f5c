#pragma once

#include <cstdint>
#include <string>
#include <string_view>
#include <vector>

namespace llmctl::engine {

struct GpuSpec {
  std::string_view id;    // what --gpu takes: "h100-80g"
  std::string_view name;  // what the driver calls it: "NVIDIA H100 80GB HBM3"
  std::uint64_t memory_bytes;  // total device memory as the CUDA runtime reports it (cudaMemGetInfo)
  bool is_a100;  // vLLM picks smaller default batch limits on A100s
};

const std::vector<GpuSpec>& gpu_catalog();

// Looks up an id or an alias ("h100" for "h100-80g", case-insensitive); throws llmctl::Error naming the
// closest known id when there is none.
const GpuSpec& find_gpu(std::string_view id);

// "h100-80g, h200, ..." for --help and error messages.
std::string known_gpu_ids();

}  // namespace llmctl::engine
