#pragma once

#include <cstdint>
#include <optional>
#include <string>

#include "runtime/roofline.hpp"

namespace llmctl::engine {

struct DeviceInfo {
  std::string name;  // "NVIDIA H100 80GB HBM3"
  std::uint64_t total_memory;
  std::uint64_t free_memory;
  int compute_capability_major;
  int compute_capability_minor;
};

// The CUDA device `index`, or nullopt when there is none (no driver, no GPU, or a build without CUDA).
std::optional<DeviceInfo> query_device(int index);

// The copy bandwidth and bf16 GEMM rate of GPU 0, measured now (well under a second); nullopt without
// a GPU. Benchmarks judge their figures against these.
std::optional<DeviceCeilings> measure_device_ceilings();

}  // namespace llmctl::engine
