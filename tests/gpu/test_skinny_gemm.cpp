// On the GPU machine: kernels/skinny_gemm.cu (the products of one or two activation rows with a
// weight matrix, and the same fused with silu_mul) against a float64 reference on the CPU, on fresh
// random shapes in bf16 and fp16: widths from 8 to 18,944 (the bulk kernel on sm_90 with 1 to 8 features
// a stage, the warp-per-feature kernel with one, two and four warps per feature elsewhere), and one
// width too long for the bulk kernel's shared memory, which the other kernel takes on sm_90 too; feature
// counts that leave blocks partly or wholly empty, with and without a bias, bf16/fp16 or f32 output; and on
// sm_90 the residual add and RMSNorm fused into the product (the residual must then hold the sum exactly).
// Then kernels/gemm.cpp (cuBLASLt), which takes more rows, alone and followed by the elementwise silu_mul as
// the backend runs gate_up there (once on 66,000 rows: more than a grid's 65,535 in y); and
// kernels/swiglu_gemm.cu, gate_up with silu_mul fused for a few hundred rows on sm_90a.
// Every output must be within the output type's rounding of the reference, plus the f32 sum's error.
// Without a GPU it exits 77 (ctest: skipped).
#include "gemm.hpp"
#include "gpu_test_support.hpp"
#include "kernels.hpp"
#include "weights/dtype_convert.hpp"

#include <cuda_runtime.h>

#include <algorithm>
#include <charconv>
#include <climits>
#include <cmath>
#include <cstdio>
#include <random>
#include <stdexcept>
#include <string>
#include <string_view>
#include <system_error>
#include <vector>

namespace {

using namespace llmctl;
using gpu_test::check;
using gpu_test::to_device;

int failures = 0;

struct Case {
  kernels::Element element;
  int rows;
  int in;
  int features;  // the output width (for silu_mul, the weight has twice as many rows)
  bool bias;
  bool out_f32;
  bool silu_mul;
  bool norm = false;  // x computed by the product from a residual and an addend (kernels::ResidualNorm)
  bool cublas = false;  // through kernels::Gemm instead, then kernels::silu_mul for silu_mul (no norm)
  bool swiglu = false;  // silu_mul through kernels::swiglu_gemm (no norm)
};

kernels::Gemm& gemm() {  // one for all cases, as the backend keeps one
  static kernels::Gemm instance(32u << 20);
  return instance;
}

float to_float(kernels::Element e, std::uint16_t bits) {
  return e == kernels::Element::bf16 ? engine::bf16_to_float(bits) : engine::f16_to_float(bits);
}
std::uint16_t from_float(kernels::Element e, float value) {
  return e == kernels::Element::bf16 ? engine::float_to_bf16(value) : engine::float_to_f16(value);
}

void run_case(const Case& c, std::mt19937& random) {
  const auto e = c.element;
  std::normal_distribution<float> normal(0.0f, 1.0f);
  auto random_vector = [&](std::size_t count, float scale) {
    std::vector<std::uint16_t> v(count);
    for (auto& x : v) x = from_float(e, normal(random) * scale);
    return v;
  };
  const int weight_rows = c.silu_mul ? 2 * c.features : c.features;
  auto x = random_vector(static_cast<std::size_t>(c.rows) * c.in, 1.0f);
  // With a norm: x is the residual (+= addend, rounded) normalized by its rms and times the norm weight,
  // computed here in float as add_rms_norm does; an element of x may still round the other way on the GPU
  // (another summation order of the squares), which the tolerance allows for.
  const auto residual = random_vector(x.size(), 1.0f), addend = random_vector(x.size(), 1.0f);
  const auto norm_weight = random_vector(static_cast<std::size_t>(c.in), 1.0f);
  constexpr float kEps = 1e-6f;
  std::vector<std::uint16_t> summed(x.size());
  if (c.norm)
    for (int r = 0; r < c.rows; ++r) {
      double squares = 0.0;
      for (int k = 0; k < c.in; ++k) {
        const std::size_t i = static_cast<std::size_t>(r) * c.in + k;
        summed[i] = from_float(e, to_float(e, residual[i]) + to_float(e, addend[i]));
        squares += static_cast<double>(to_float(e, summed[i])) * to_float(e, summed[i]);
      }
      const float scale = 1.0f / std::sqrt(static_cast<float>(squares / c.in) + kEps);
      for (int k = 0; k < c.in; ++k) {
        const std::size_t i = static_cast<std::size_t>(r) * c.in + k;
        x[i] = from_float(e, to_float(e, summed[i]) * scale * to_float(e, norm_weight[static_cast<std::size_t>(k)]));
      }
    }
  const auto weight = random_vector(static_cast<std::size_t>(weight_rows) * c.in, 1.0f / std::sqrt(static_cast<float>(c.in)));
  const auto bias = random_vector(static_cast<std::size_t>(c.features), 1.0f);

  // dot[r][f] in float64 from the rounded inputs, with the sum of |terms| for the f32 accumulation's error.
  auto dot = [&](int r, int f, double& magnitude) {
    double sum = 0.0;
    magnitude = 0.0;
    for (int k = 0; k < c.in; ++k) {
      const double term = static_cast<double>(to_float(e, x[static_cast<std::size_t>(r) * c.in + k])) *
                          to_float(e, weight[static_cast<std::size_t>(f) * c.in + k]);
      sum += term;
      magnitude += std::fabs(term);
    }
    return sum;
  };

  std::uint16_t* d_x = to_device(x);
  std::uint16_t* d_residual = to_device(residual);
  std::uint16_t* d_addend = to_device(addend);
  std::uint16_t* d_norm_weight = to_device(norm_weight);
  const kernels::ResidualNorm norm{d_residual, d_addend, d_norm_weight, kEps};
  std::uint16_t* d_weight = to_device(weight);
  std::uint16_t* d_bias = to_device(bias);
  const std::size_t out_count = static_cast<std::size_t>(c.rows) * c.features;
  const std::size_t out_bytes = out_count * (c.out_f32 ? 4 : 2);
  void* d_out = nullptr;
  check(cudaMalloc(&d_out, out_bytes), "cudaMalloc");
  check(cudaMemset(d_out, 0xff, out_bytes), "poison");  // NaN: every output must be written
  const kernels::ResidualNorm* fused = c.norm ? &norm : nullptr;
  const void* input = c.norm ? nullptr : d_x;
  if (c.swiglu)
    kernels::swiglu_gemm(e, d_x, c.rows, c.in, d_weight, c.features, d_out, nullptr);
  else if (c.cublas && c.silu_mul) {
    void* d_gate_up = nullptr;
    check(cudaMalloc(&d_gate_up, static_cast<std::size_t>(c.rows) * weight_rows * 2), "cudaMalloc");
    gemm().linear(e, d_x, c.rows, c.in, d_weight, weight_rows, nullptr, d_gate_up, false, nullptr);
    kernels::silu_mul(e, d_gate_up, c.rows, c.features, d_out, nullptr);
    check(cudaDeviceSynchronize(), "silu_mul");
    cudaFree(d_gate_up);
  } else if (c.cublas)
    gemm().linear(e, d_x, c.rows, c.in, d_weight, c.features, c.bias ? d_bias : nullptr, d_out, c.out_f32, nullptr);
  else if (c.silu_mul)
    kernels::skinny_gemm_silu_mul(e, input, c.rows, c.in, d_weight, c.features, d_out, nullptr, fused);
  else
    kernels::skinny_gemm(e, input, c.rows, c.in, d_weight, c.features, c.bias ? d_bias : nullptr, d_out, c.out_f32, nullptr,
                         fused);
  check(cudaDeviceSynchronize(), "skinny_gemm");
  int bad = 0;
  if (c.norm) {
    // The fused path is offered for these operands, and refused for any of them 2 bytes off alignment
    // (the backend then runs add_rms_norm and the product apart).
    const auto fuses = [&](const kernels::ResidualNorm& n, const void* w) {
      return kernels::skinny_gemm_fuses_norm(c.rows, c.in, w, c.features, c.silu_mul, n);
    };
    if (!fuses(norm, d_weight) || fuses({d_residual + 1, d_addend, d_norm_weight, kEps}, d_weight) ||
        fuses({d_residual, d_addend + 1, d_norm_weight, kEps}, d_weight) ||
        fuses({d_residual, d_addend, d_norm_weight + 1, kEps}, d_weight) || fuses(norm, d_weight + 1)) {
      std::puts("FAIL skinny_gemm_fuses_norm: its answer for aligned and misaligned operands");
      ++bad;
    }
  }
  if (c.norm) {  // the residual holds the rounded sum, exactly
    std::vector<std::uint16_t> after(x.size());
    check(cudaMemcpy(after.data(), d_residual, after.size() * 2, cudaMemcpyDeviceToHost), "download");
    if (after != summed) ++bad;
  }
  std::vector<std::uint16_t> out16(c.out_f32 ? 0 : out_count);
  std::vector<float> out32(c.out_f32 ? out_count : 0);
  check(cudaMemcpy(c.out_f32 ? static_cast<void*>(out32.data()) : static_cast<void*>(out16.data()), d_out, out_bytes,
                   cudaMemcpyDeviceToHost),
        "download");

  const double rounding = c.out_f32 ? 0x1p-23 : (e == kernels::Element::bf16 ? 0x1p-8 : 0x1p-11);
  const double f32_sum = 2e-6;  // relative to the sum of |terms|: a few float32 epsilons for the reordered sum
  double worst = 0.0;
  // Half the smallest step of a type: below its normal range a rounding's error is that, not a fraction
  // of the value (fp16's outputs of silu_mul at very negative gates are subnormal).
  const double element_floor = e == kernels::Element::bf16 ? 0x1p-134 : 0x1p-25;
  const double out_floor = c.out_f32 ? 0x1p-150 : element_floor;
  // An element of x rounded the other way: one step of the element type.
  const double x_step = c.norm ? (e == kernels::Element::bf16 ? 0x1p-7 : 0x1p-10) : 0.0;
  for (int r = 0; r < c.rows; ++r)
    for (int f = 0; f < c.features; ++f) {
      double expected = 0.0, allowed = 0.0;
      if (c.silu_mul) {
        // silu(gate) * up of the exact products. The kernels' gate and up are their float sums (off by
        // f32_sum of the sum of |terms|, and by x_step of it where an element of x rounded the other way)
        // rounded to the element type (half a step: `rounding` of each, or the floor); those errors move
        // the result by its derivatives, and the result rounds once more. d silu(g) / dg is
        // s (1 + g (1 - s)), s the sigmoid: for a negative gate several times silu(g) / g, so a gate's
        // rounding moves the result by several of its own rounding steps.
        double gate_magnitude = 0.0, up_magnitude = 0.0;
        const double gate = dot(r, f, gate_magnitude), up = dot(r, c.features + f, up_magnitude);
        const double sigmoid = 1.0 / (1.0 + std::exp(-gate));
        expected = gate * sigmoid * up;
        const double gate_error = rounding * std::fabs(gate) + element_floor + (f32_sum + x_step) * gate_magnitude;
        const double up_error = rounding * std::fabs(up) + element_floor + (f32_sum + x_step) * up_magnitude;
        const double by_gate = std::fabs(up * sigmoid * (1.0 + gate * (1.0 - sigmoid)));
        const double by_up = std::fabs(gate * sigmoid);
        allowed = rounding * std::fabs(expected) + out_floor + by_gate * gate_error + by_up * up_error;
      } else {
        double magnitude = 0.0;
        expected = dot(r, f, magnitude) + (c.bias ? to_float(e, bias[static_cast<std::size_t>(f)]) : 0.0);
        allowed = rounding * std::fabs(expected) + out_floor + f32_sum * (magnitude + 1.0) + x_step * magnitude;
      }
      const std::size_t i = static_cast<std::size_t>(r) * c.features + f;
      const double got = c.out_f32 ? out32[i] : to_float(e, out16[i]);
      const double error = std::fabs(got - expected);
      if (!(error <= allowed) && ++bad <= 3)  // NaN counts as bad
        std::printf("  row %d feature %d: expected %.9g, got %.9g, allowed error %.3g\n", r, f, expected, got, allowed);
      worst = std::max(worst, error / allowed);
    }
  std::printf("%s %s%s%s rows %d in %5d features %5d%s%s%s%s: worst error %.2f of allowed, %d bad\n",
              bad == 0 ? "ok  " : "FAIL", c.cublas ? "cuBLASLt " : "", c.swiglu ? "swiglu_gemm " : "",
              e == kernels::Element::bf16 ? "bf16" : "fp16",
              c.rows, c.in, c.features, c.norm ? " norm" : "",
              c.bias ? " +bias" : "", c.out_f32 ? " f32 out" : "", c.silu_mul ? " silu_mul" : "", worst, bad);
  std::fflush(stdout);  // each case shown before the next one runs, should it abort
  failures += bad == 0 ? 0 : 1;
  cudaFree(d_x);
  cudaFree(d_residual);
  cudaFree(d_addend);
  cudaFree(d_norm_weight);
  cudaFree(d_weight);
  cudaFree(d_bias);
  cudaFree(d_out);
}

}  // namespace

// gpu_skinny_gemm_test [SEED]: the shapes and values of a run, given the seed it printed.
int main(int argc, char** argv) {
  unsigned s = 0;
  if (argc > 1) {  // checked first, so that a mistyped seed is reported on any machine
    const std::string_view text = argv[1];
    const auto [end, error] = std::from_chars(text.data(), text.data() + text.size(), s);
    if (error != std::errc{} || end != text.data() + text.size()) {
      std::fprintf(stderr, "gpu_skinny_gemm_test: the seed must be a number from 0 to %u, not '%s'\n", UINT_MAX,
                   argv[1]);
      return 2;
    }
  } else {
    s = std::random_device{}();
  }
  if (!gpu_test::gpu_present()) return 77;
  std::printf("seed %u\n", s);
  std::fflush(stdout);  // shown even if a case aborts
  std::mt19937 random(s);
  const auto bf16 = kernels::Element::bf16, f16 = kernels::Element::f16;
  // Qwen2.5-7B's shapes (qkv with bias, o, down, lm_head logits in f32, gate_up fused).
  for (int rows = 1; rows <= kernels::kSkinnyRows; ++rows) {
    run_case({bf16, rows, 3584, 4608, true, false, false}, random);
    run_case({bf16, rows, 3584, 3584, false, false, false}, random);
    run_case({bf16, rows, 18944, 3584, false, false, false}, random);
    run_case({bf16, rows, 3584, 18944, false, false, true}, random);
  }
  run_case({bf16, 1, 3584, 152064, false, true, false}, random);
  run_case({f16, 2, 3584, 152064, false, true, false}, random);
  run_case({bf16, 2, 65536, 300, true, false, false}, random);  // 256 KB of activations: not the bulk kernel
  // The norm fused into the product (the bulk kernel, sm_90): Qwen2.5-7B's qkv and gate_up, then random shapes.
  // Shape queries: null pointers count as aligned.
  if (kernels::skinny_gemm_fuses_norm(1, 3584, nullptr, 4608, false, {})) {
    for (int rows = 1; rows <= kernels::kSkinnyRows; ++rows) {
      run_case({bf16, rows, 3584, 4608, true, false, false, true}, random);
      run_case({rows == 1 ? bf16 : f16, rows, 3584, 18944, false, false, true, true}, random);
    }
    std::uniform_int_distribution<int> rows(1, static_cast<int>(kernels::kSkinnyRows)), vectors(1, 1200),
        features(1, 3000), coin(0, 1);
    for (int i = 0; i < 8; ++i) {
      const bool silu = coin(random) == 1;
      const int r = rows(random), in = 8 * vectors(random), f = features(random);
      run_case({coin(random) ? bf16 : f16, r, in, f, !silu && coin(random), false, silu,
                kernels::skinny_gemm_fuses_norm(r, in, nullptr, f, silu, {})},
               random);
    }
  } else {
    std::puts("skipped: no fused norm on this GPU");
  }
  // Fresh random shapes: widths of any multiple of 8, feature counts that are not multiples of 4.
  std::uniform_int_distribution<int> rows(1, static_cast<int>(kernels::kSkinnyRows)), vectors(1, 1200), features(1, 3000), coin(0, 1);
  for (int i = 0; i < 24; ++i) {
    const bool silu = coin(random) == 1;
    run_case({coin(random) ? bf16 : f16, rows(random), 8 * vectors(random), features(random), !silu && coin(random),
              !silu && coin(random), silu},
             random);
  }
  // cuBLASLt on fresh random shapes and row counts up to 1,200 (a bias only with an output in the element
  // type: cuBLASLt has no algorithm for a bf16 bias added to f32 output, and the backend never asks).
  std::uniform_int_distribution<int> many_rows(3, 1200);
  for (int i = 0; i < 12; ++i) {
    const bool out_f32 = coin(random) == 1;
    run_case({coin(random) ? bf16 : f16, many_rows(random), 8 * vectors(random) % 512 + 8, features(random) % 700 + 1,
              !out_f32 && coin(random) == 1, out_f32, false, false, true},
             random);
  }
  // gate_up beyond the skinny kernels' rows: cuBLASLt, then the elementwise silu_mul (widths of 8 to 720).
  for (int i = 0; i < 4; ++i)
    run_case({coin(random) ? bf16 : f16, many_rows(random), 8 * vectors(random) % 512 + 8, 8 * (features(random) % 90 + 1),
              false, false, true, false, true},
             random);
  run_case({bf16, 66000, 8, 8, false, false, true, false, true}, random);
  // gate_up and silu_mul in one kernel (sm_90a) for 64 to 256 rows: both row layouts (up to 128 rows and
  // more), k not a multiple of the kernel's 64, widths that end mid-tile, one k as long as Qwen2.5-7B's;
  // widths whose tiles nearly fill the multiprocessors, as swiglu_gemm_supports asks.
  int multiprocessors = 0;
  check(cudaDeviceGetAttribute(&multiprocessors, cudaDevAttrMultiProcessorCount, 0), "multiprocessors");
  if (kernels::swiglu_gemm_supports(kernels::kSwigluGemmMaxRows, 8, 72 * multiprocessors, nullptr, nullptr, nullptr)) {
    std::uniform_int_distribution<int> swiglu_rows(static_cast<int>(kernels::kSwigluGemmMinRows),
                                                   static_cast<int>(kernels::kSwigluGemmMaxRows)),
        spare_tiles(0, multiprocessors / 12), short_by(0, 35);
    const int fixed_rows[] = {static_cast<int>(kernels::kSwigluGemmMinRows), 100, 128, 129, 256};
    for (int i = 0; i < 8; ++i) {
      const int r = i < 5 ? fixed_rows[i] : i == 5 ? 65 : swiglu_rows(random);  // 5: the long k, few rows
      const int in = i == 5 ? 3584 : 8 * vectors(random) % 512 + 8;
      const int width = 72 * (multiprocessors - spare_tiles(random)) - 2 * short_by(random);
      if (!kernels::swiglu_gemm_supports(r, in, width, nullptr, nullptr, nullptr)) {
        std::printf("FAIL swiglu_gemm_supports refuses rows %d in %d width %d\n", r, in, width);
        ++failures;
        continue;
      }
      run_case({coin(random) ? bf16 : f16, r, in, width, false, false, true, false, false, true}, random);
    }
    // Refused: rows beyond its range, a width whose tiles leave most of a wave idle, misaligned operands.
    const auto* aligned = reinterpret_cast<const void*>(256);
    const auto* off = reinterpret_cast<const void*>(258);
    const int width = 72 * multiprocessors;
    const bool refuses =
        !kernels::swiglu_gemm_supports(kernels::kSwigluGemmMinRows - 1, 64, width, aligned, aligned, aligned) &&
        !kernels::swiglu_gemm_supports(kernels::kSwigluGemmMaxRows + 1, 64, width, aligned, aligned, aligned) &&
        !kernels::swiglu_gemm_supports(128, 64, 72 * (multiprocessors + 1), aligned, aligned, aligned) &&
        !kernels::swiglu_gemm_supports(128, 64, width, off, aligned, aligned) &&
        !kernels::swiglu_gemm_supports(128, 64, width, aligned, off, aligned) &&
        !kernels::swiglu_gemm_supports(128, 60, width, aligned, aligned, aligned) &&
        kernels::swiglu_gemm_supports(128, 64, width, aligned, aligned, aligned);
    std::printf("%s swiglu_gemm_supports: refuses what the kernel cannot take\n", refuses ? "ok  " : "FAIL");
    failures += refuses ? 0 : 1;
  } else {
    std::puts("skipped: no swiglu_gemm on this GPU or build");
  }
  // That combination is refused in one line, before cuBLASLt sees it (the pointers are never read).
  bool refused = false;
  try {
    gemm().linear(bf16, nullptr, 4, 64, nullptr, 64, reinterpret_cast<const void*>(16), nullptr, true, nullptr);
  } catch (const std::invalid_argument& e) {
    refused = std::string(e.what()).find("a bias only with an output in the element type") != std::string::npos;
  }
  std::printf("%s cuBLASLt: a bias with an f32 output is refused\n", refused ? "ok  " : "FAIL");
  failures += refused ? 0 : 1;
  if (failures == 0) std::puts("all passed");
  return failures == 0 ? 0 : 1;
}
