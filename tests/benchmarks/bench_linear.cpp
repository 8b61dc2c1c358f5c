// The linear layers on the GPU: cuBLASLt against our kernels where they apply (kernels/skinny_gemm.cu
// for one or two rows, kernels/swiglu_gemm.cu for gate_up + silu_mul at 64-256 rows on sm_90a), by default
// up to the 256 rows of a full decode batch, on Qwen2.5-7B's weight shapes. Each time against its floor,
// measured in the same run: the weight bytes at the device's copy bandwidth (every weight is read once)
// or, where larger, the FLOPs at its bf16 GEMM rate. Weights rotate over enough copies that none is
// still in L2 from its previous use. --rows times other row counts (prefill's, say).
//   bench_linear [--reps N] [--rows 512,4096,...]
#include "ceilings.hpp"
#include "gemm.hpp"
#include "kernels.hpp"

#include <cuda_runtime.h>

#include <algorithm>
#include <charconv>
#include <cstdio>
#include <cstdlib>
#include <cstring>
#include <functional>
#include <string>
#include <string_view>
#include <system_error>
#include <vector>

namespace {

using namespace llmctl::kernels;

void check(cudaError_t e, const char* what) {
  if (e != cudaSuccess) {
    std::fprintf(stderr, "bench_linear: %s: %s\n", what, cudaGetErrorString(e));
    std::exit(1);
  }
}

struct Shape {
  const char* name;
  std::int64_t in, out;  // weight [out, in]
  bool bias, out_f32, silu_mul;
};

// Mean time of `reps` calls of `op(copy)`, the copy cycling over `copies`, after 3 untimed calls.
double time_us(int reps, int copies, const std::function<void(int)>& op) {
  for (int i = 0; i < 3; ++i) op(i % copies);
  cudaEvent_t start, stop;
  check(cudaEventCreate(&start), "event");
  check(cudaEventCreate(&stop), "event");
  check(cudaEventRecord(start), "record");
  for (int i = 0; i < reps; ++i) op(i % copies);
  check(cudaEventRecord(stop), "record");
  check(cudaEventSynchronize(stop), "synchronize");
  float ms = 0.0f;
  check(cudaEventElapsedTime(&ms, start, stop), "elapsed");
  cudaEventDestroy(start);
  cudaEventDestroy(stop);
  return 1000.0 * ms / reps;
}

// The whole numbers from 1 to `most` of a comma-separated `list` (one number without a comma) appended
// to `counts`; false if any part is not one.
bool parse_counts(std::string_view list, int most, std::vector<int>& counts) {
  for (std::size_t start = 0;;) {
    const std::size_t comma = list.find(',', start);
    const std::string_view item = list.substr(start, comma - start);  // to the end where there is no comma
    int value = 0;
    const auto [end, error] = std::from_chars(item.data(), item.data() + item.size(), value);
    if (error != std::errc{} || end != item.data() + item.size() || value < 1 || value > most) return false;
    counts.push_back(value);
    if (comma == std::string_view::npos) return true;
    start = comma + 1;
  }
}

}  // namespace

int main(int argc, char** argv) {
  int reps = 50;
  std::vector<int> row_counts;
  for (int i = 1; i < argc; i += 2) {
    const bool reps_flag = std::strcmp(argv[i], "--reps") == 0, rows_flag = std::strcmp(argv[i], "--rows") == 0;
    if (i + 1 == argc || !(reps_flag || rows_flag)) {
      std::fprintf(stderr, "usage: bench_linear [--reps N] [--rows 512,4096,...]\n");
      return 2;
    }
    if (reps_flag) {
      std::vector<int> count;
      if (!parse_counts(argv[i + 1], 100000, count) || count.size() != 1) {
        std::fprintf(stderr, "bench_linear: --reps takes a count from 1 to 100000, not '%s'\n", argv[i + 1]);
        return 2;
      }
      reps = count[0];
    } else if (!parse_counts(argv[i + 1], 65536, row_counts)) {
      std::fprintf(stderr, "bench_linear: --rows takes row counts from 1 to 65536, separated by commas, not '%s'\n",
                   argv[i + 1]);
      return 2;
    }
  }
  if (row_counts.empty()) row_counts = {1, 2, 3, 4, 8, 16, 32, 64, 128, 192, 256};
  const std::int64_t max_rows = *std::max_element(row_counts.begin(), row_counts.end());
  const Ceilings ceilings = measure_ceilings();
  // The floor is what llmctl bench's decode roofline assumes: the weight bytes at the copy rate (a pure
  // read stream can beat it: a copy also writes), or the FLOPs at the GEMM rate where that takes longer.
  const double bandwidth = ceilings.copy_bytes_per_second;
  std::printf("copy bandwidth %.2f TB/s (read + write), GEMM rate %.0f TFLOP/s: the floor below is the weight bytes "
              "or the FLOPs at those rates, whichever takes longer\n",
              bandwidth / 1e12, ceilings.gemm_flops_per_second / 1e12);
  const Shape shapes[] = {
      {"qkv", 3584, 4608, true, false, false},          {"o", 3584, 3584, false, false, false},
      {"gate_up", 3584, 37888, false, false, false},    {"gate_up + silu_mul", 3584, 37888, false, false, true},
      {"down", 18944, 3584, false, false, false},       {"lm_head", 3584, 152064, false, true, false},
  };
  Gemm gemm(32u << 20);
  std::printf("%-20s %5s %12s %12s %9s %12s %9s\n", "weights", "rows", "floor us", "cuBLASLt us", "of floor",
              "ours us", "of floor");
  for (const auto& s : shapes) {
    const std::size_t weight_bytes = static_cast<std::size_t>(s.in * s.out) * 2;
    const int copies = static_cast<int>(std::max<std::size_t>(1, (512u << 20) / weight_bytes + 1));
    std::vector<void*> weights(static_cast<std::size_t>(copies));
    for (auto& w : weights) {
      check(cudaMalloc(&w, weight_bytes), "cudaMalloc");
      fill_uniform(Element::bf16, w, s.in * s.out, 1, -0.02f, 0.02f, nullptr);
    }
    void *x = nullptr, *bias = nullptr, *gate_up = nullptr, *out = nullptr;
    check(cudaMalloc(&x, static_cast<std::size_t>(max_rows * s.in) * 2), "cudaMalloc");
    check(cudaMalloc(&bias, static_cast<std::size_t>(s.out) * 2), "cudaMalloc");
    check(cudaMalloc(&gate_up, static_cast<std::size_t>(max_rows * s.out) * 2), "cudaMalloc");
    check(cudaMalloc(&out, static_cast<std::size_t>(max_rows * s.out) * 4), "cudaMalloc");
    fill_uniform(Element::bf16, x, max_rows * s.in, 2, -1.0f, 1.0f, nullptr);
    fill_uniform(Element::bf16, bias, s.out, 3, -1.0f, 1.0f, nullptr);
    const void* b = s.bias ? bias : nullptr;
    for (const int rows : row_counts) {
      const double flops = 2.0 * static_cast<double>(rows) * static_cast<double>(s.in * s.out);
      const double floor_us =
          1e6 * std::max(static_cast<double>(weight_bytes) / bandwidth, flops / ceilings.gemm_flops_per_second);
      const double cublas = time_us(reps, copies, [&](int i) {
        gemm.linear(Element::bf16, x, rows, s.in, weights[static_cast<std::size_t>(i)], s.out, b,
                    s.silu_mul ? gate_up : out, s.out_f32, nullptr);
        if (s.silu_mul) silu_mul(Element::bf16, gate_up, rows, s.out / 2, out, nullptr);
      });
      std::printf("%-20s %5d %12.1f %12.1f %8.1f%%", s.name, rows, floor_us, cublas, 100.0 * floor_us / cublas);
      const bool swiglu = s.silu_mul && swiglu_gemm_supports(rows, s.in, s.out / 2, x, weights[0], out);
      if (rows <= kSkinnyRows || swiglu) {
        const double ours = time_us(reps, copies, [&](int i) {
          const void* w = weights[static_cast<std::size_t>(i)];
          if (swiglu)
            swiglu_gemm(Element::bf16, x, rows, s.in, w, s.out / 2, out, nullptr);
          else if (s.silu_mul)
            skinny_gemm_silu_mul(Element::bf16, x, rows, s.in, w, s.out / 2, out, nullptr);
          else
            skinny_gemm(Element::bf16, x, rows, s.in, w, s.out, b, out, s.out_f32, nullptr);
        });
        std::printf(" %12.1f %8.1f%%", ours, 100.0 * floor_us / ours);
      }
      std::printf("\n");
    }
    check(cudaDeviceSynchronize(), "the benchmark");
    for (auto* w : weights) cudaFree(w);
    cudaFree(x);
    cudaFree(bias);
    cudaFree(gate_up);
    cudaFree(out);
  }
  return 0;
}
