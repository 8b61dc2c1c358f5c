#include "backend/device_query.hpp"

#include "ceilings.hpp"
#include "common/error.hpp"

#include <cuda_runtime_api.h>

namespace llmctl::engine {

std::optional<DeviceInfo> query_device(int index) {
  int count = 0;
  if (cudaGetDeviceCount(&count) != cudaSuccess || index >= count) {
    cudaGetLastError();  // clear the error so later CUDA calls do not report it
    return std::nullopt;
  }
  cudaDeviceProp properties{};
  std::size_t free_bytes = 0;
  std::size_t total_bytes = 0;
  if (cudaGetDeviceProperties(&properties, index) != cudaSuccess || cudaSetDevice(index) != cudaSuccess ||
      cudaMemGetInfo(&free_bytes, &total_bytes) != cudaSuccess) {
    cudaGetLastError();
    return std::nullopt;
  }
  return DeviceInfo{properties.name, total_bytes, free_bytes, properties.major, properties.minor};
}

std::optional<DeviceCeilings> measure_device_ceilings() {
  if (!query_device(0)) return std::nullopt;
  try {
    const auto measured = kernels::measure_ceilings();
    return DeviceCeilings{measured.copy_bytes_per_second, measured.gemm_flops_per_second};
  } catch (const std::runtime_error& e) {
    throw Error(std::string("measuring the GPU's ceilings: ") + e.what());
  }
}

}  // namespace llmctl::engine
