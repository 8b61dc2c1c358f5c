#pragma once

// What the kernel tests of tests/gpu/ share: stopping at the first failed CUDA call, uploading a
// vector, and skipping (ctest's code 77) where no GPU is visible.
#include "backend/device_query.hpp"

#include <cuda_runtime.h>

#include <algorithm>
#include <cstdio>
#include <cstdlib>
#include <vector>

namespace llmctl::gpu_test {

inline void check(cudaError_t e, const char* what) {
  if (e != cudaSuccess) {
    std::printf("FAIL %s: %s\n", what, cudaGetErrorString(e));
    std::exit(1);
  }
}

template <typename T>
T* to_device(const std::vector<T>& host) {
  T* p = nullptr;
  check(cudaMalloc(reinterpret_cast<void**>(&p), std::max<std::size_t>(host.size() * sizeof(T), 1)), "cudaMalloc");
  check(cudaMemcpy(p, host.data(), host.size() * sizeof(T), cudaMemcpyHostToDevice), "upload");
  return p;
}

// False, having said so, where there is no GPU: main() then returns 77.
inline bool gpu_present() {
  if (engine::query_device(0)) return true;
  std::puts("SKIPPED: no CUDA GPU here; run the gpu-labelled tests on the GPU machine");
  return false;
}

}  // namespace llmctl::gpu_test
