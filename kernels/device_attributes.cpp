#include "device_attributes.hpp"

#include <algorithm>

namespace llmctl::kernels {
namespace {

int attribute(cudaDeviceAttr which) {
  int device = 0, value = 0;
  cudaGetDevice(&device);
  cudaDeviceGetAttribute(&value, which, device);
  return value;
}

}  // namespace

int compute_capability_major() {
  static const int major = attribute(cudaDevAttrComputeCapabilityMajor);
  return major;
}

int multiprocessor_count() {
  static const int count = std::max(attribute(cudaDevAttrMultiProcessorCount), 1);
  return count;
}

int shared_memory_per_block() {
  static const int bytes = attribute(cudaDevAttrMaxSharedMemoryPerBlockOptin);
  return bytes;
}

}  // namespace llmctl::kernels
