#include "ceilings.hpp"

#include "gemm.hpp"

#include <algorithm>
#include <stdexcept>
#include <string>

namespace llmctl::kernels {
namespace {

void check(cudaError_t error, const char* what) {
  if (error != cudaSuccess) throw std::runtime_error(std::string(what) + ": " + cudaGetErrorString(error));
}

// Seconds per run of `work`, the median of `runs` timed with events after one warm-up run.
template <typename F>
double time_runs(cudaStream_t stream, int runs, F&& work) {
  cudaEvent_t start, stop;
  check(cudaEventCreate(&start), "cudaEventCreate");
  check(cudaEventCreate(&stop), "cudaEventCreate");
  work();
  float times[16] = {};
  for (int i = 0; i < runs; ++i) {
    check(cudaEventRecord(start, stream), "cudaEventRecord");
    work();
    check(cudaEventRecord(stop, stream), "cudaEventRecord");
    check(cudaEventSynchronize(stop), "cudaEventSynchronize");
    check(cudaEventElapsedTime(&times[i], start, stop), "cudaEventElapsedTime");
  }
  std::sort(times, times + runs);
  cudaEventDestroy(start);
  cudaEventDestroy(stop);
  return static_cast<double>(times[runs / 2]) / 1000.0;
}

}  // namespace

Ceilings measure_ceilings() {
  cudaStream_t stream;
  check(cudaStreamCreateWithFlags(&stream, cudaStreamNonBlocking), "cudaStreamCreate");
  Ceilings result{};
  {
    constexpr std::size_t bytes = 1ull << 30;  // far beyond the L2
    void *a = nullptr, *b = nullptr;
    check(cudaMalloc(&a, bytes), "cudaMalloc");
    check(cudaMalloc(&b, bytes), "cudaMalloc");
    fill_uniform(Element::bf16, a, static_cast<std::int64_t>(bytes / 2), 1, -1.0f, 1.0f, stream);
    const double seconds = time_runs(stream, 9, [&] { check(cudaMemcpyAsync(b, a, bytes, cudaMemcpyDeviceToDevice, stream), "copy"); });
    result.copy_bytes_per_second = 2.0 * static_cast<double>(bytes) / seconds;  // read and write
    cudaFree(a);
    cudaFree(b);
  }
  {
    constexpr std::int64_t n = 8192;
    const std::size_t bytes = static_cast<std::size_t>(n * n) * 2;
    void *x = nullptr, *w = nullptr, *out = nullptr;
    check(cudaMalloc(&x, bytes), "cudaMalloc");
    check(cudaMalloc(&w, bytes), "cudaMalloc");
    check(cudaMalloc(&out, bytes), "cudaMalloc");
    fill_uniform(Element::bf16, x, n * n, 2, -1.0f, 1.0f, stream);  // random data: zeros run faster
    fill_uniform(Element::bf16, w, n * n, 3, -1.0f, 1.0f, stream);
    Gemm gemm(32ull << 20);
    const double seconds = time_runs(stream, 9, [&] { gemm.linear(Element::bf16, x, n, n, w, n, nullptr, out, false, stream); });
    result.gemm_flops_per_second = 2.0 * static_cast<double>(n) * n * n / seconds;
    cudaFree(x);
    cudaFree(w);
    cudaFree(out);
  }
  cudaStreamDestroy(stream);
  return result;
}

}  // namespace llmctl::kernels
