// On the GPU machine: checks the device query and the runtime figures that mem-estimate relies on.
// It measures what one process's CUDA context and cuBLAS (after a real bf16 GEMM) take from the GPU,
// which must not exceed kRuntimeBytesPerGpu, and checks the catalog's total for this GPU.
// Without a GPU it prints why and exits 77, which ctest reports as skipped.
#include "backend/device_query.hpp"
#include "runtime/gpu_catalog.hpp"
#include "runtime/memory_plan.hpp"

#include <cublas_v2.h>
#include <cuda_bf16.h>
#include <cuda_runtime.h>

#include <cstdio>
#include <vector>

namespace {

int passed = 0;
int failures = 0;

void expect(bool ok, const char* what) {
  std::printf("%s %s\n", ok ? "ok  " : "FAIL", what);
  ++(ok ? passed : failures);
}

#define CUDA_OK(call) expect((call) == cudaSuccess, #call)

double mib(std::size_t bytes) { return static_cast<double>(bytes) / (1024.0 * 1024.0); }

// The GEMM input, made on the device (and compiled by nvcc, so CI proves the CUDA toolchain builds).
__host__ __device__ float pattern(std::size_t i) { return static_cast<float>(i % 7) - 3.0f; }

__global__ void fill_pattern(__nv_bfloat16* out, std::size_t count) {
  for (std::size_t i = blockIdx.x * static_cast<std::size_t>(blockDim.x) + threadIdx.x; i < count;
       i += static_cast<std::size_t>(gridDim.x) * blockDim.x)
    out[i] = __float2bfloat16(pattern(i));
}

}  // namespace

int main() {
  using namespace llmctl::engine;
  const auto device = query_device(0);
  if (!device) {
    std::puts("SKIPPED: no CUDA GPU here; run the gpu-labelled tests on the GPU machine");
    return 77;
  }
  std::printf("device: %s, compute capability %d.%d, total %zu bytes (%.0f MiB), free %.0f MiB\n", device->name.c_str(),
              device->compute_capability_major, device->compute_capability_minor,
              static_cast<std::size_t>(device->total_memory), mib(device->total_memory), mib(device->free_memory));
  expect(!device->name.empty(), "the device has a name");
  expect(device->total_memory > (1ull << 30) && device->free_memory <= device->total_memory, "memory figures are sane");
  const std::size_t context_used = device->total_memory - device->free_memory;

  // cuBLAS with one real bf16 GEMM loads its kernels and workspace, as the engine's first step will.
  constexpr int n = 2048;
  const std::size_t count = static_cast<std::size_t>(n) * n;
  __nv_bfloat16 *a = nullptr, *c = nullptr;
  const std::size_t operand_bytes = count * sizeof(__nv_bfloat16);
  CUDA_OK(cudaMalloc(&a, operand_bytes));
  CUDA_OK(cudaMalloc(&c, operand_bytes));
  fill_pattern<<<256, 256>>>(a, count);
  CUDA_OK(cudaGetLastError());
  std::vector<__nv_bfloat16> host(count);
  CUDA_OK(cudaMemcpy(host.data(), a, operand_bytes, cudaMemcpyDeviceToHost));
  bool filled = true;
  for (std::size_t i = 0; i < count; ++i) filled = filled && __bfloat162float(host[i]) == pattern(i);
  expect(filled, "the fill kernel wrote every element");
  cublasHandle_t handle = nullptr;
  expect(cublasCreate(&handle) == CUBLAS_STATUS_SUCCESS, "cublasCreate");
  const float one = 1.0f, zero = 0.0f;
  expect(cublasGemmEx(handle, CUBLAS_OP_N, CUBLAS_OP_N, n, n, n, &one, a, CUDA_R_16BF, n, a, CUDA_R_16BF, n, &zero, c,
                      CUDA_R_16BF, n, CUBLAS_COMPUTE_32F, CUBLAS_GEMM_DEFAULT) == CUBLAS_STATUS_SUCCESS,
         "cublasGemmEx bf16");
  CUDA_OK(cudaDeviceSynchronize());
  std::vector<__nv_bfloat16> result(count);
  CUDA_OK(cudaMemcpy(result.data(), c, operand_bytes, cudaMemcpyDeviceToHost));
  // C[0][0] = sum_k A[0][k] * A[k][0] (column-major), computed here in float.
  double expected = 0;
  for (int k = 0; k < n; ++k)
    expected += static_cast<double>(__bfloat162float(host[static_cast<std::size_t>(k) * n])) *
                static_cast<double>(__bfloat162float(host[static_cast<std::size_t>(k)]));
  const double got = static_cast<double>(__bfloat162float(result[0]));
  expect(got > expected - 0.01 * (1 + (expected < 0 ? -expected : expected)) &&
             got < expected + 0.01 * (1 + (expected < 0 ? -expected : expected)),
         "the GEMM computed C[0][0]");

  std::size_t free_after = 0, total = 0;
  CUDA_OK(cudaMemGetInfo(&free_after, &total));
  const std::size_t runtime_used = total - free_after - 2 * operand_bytes;
  std::printf("runtime: context %.0f MiB, context + cuBLAS after a GEMM %.0f MiB; mem-estimate assumes %.0f MiB\n",
              mib(context_used), mib(runtime_used), mib(kRuntimeBytesPerGpu));
  expect(runtime_used <= kRuntimeBytesPerGpu, "kRuntimeBytesPerGpu covers the measured runtime");

  bool in_catalog = false;
  for (const auto& gpu : gpu_catalog()) {
    if (gpu.name == device->name) {
      in_catalog = true;
      std::printf("catalog %s: %zu bytes, measured %zu\n", std::string(gpu.id).c_str(),
                  static_cast<std::size_t>(gpu.memory_bytes), total);
      expect(gpu.memory_bytes <= total && gpu.memory_bytes + (64ull << 20) >= total,
             "the catalog's total for this GPU matches the runtime's (within 64 MiB, never above)");
    }
  }
  if (!in_catalog) std::printf("note: %s is not in the GPU catalog\n", device->name.c_str());

  cublasDestroy(handle);
  cudaFree(a);
  cudaFree(c);
  std::printf("%d passed, %d failed\n", passed, failures);
  return failures == 0 ? 0 : 1;
}
