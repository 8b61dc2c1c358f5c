// Products of one or two activation rows with a weight matrix: decoding one or two sequences reads
// every weight once per token, so the step is as fast as the weights stream from memory (from three rows
// on, cuBLASLt is as fast or faster: tests/benchmarks/bench_linear.cpp). cuBLASLt's GEMMs of one row
// reach 43-105% of the copy bandwidth on these shapes (docs/benchmarks.md); here a warp owns one output
// feature, streams its weight row with 16-byte loads that bypass L1 (each weight is read once), and
// keeps the activation rows, which every warp reads, in L1.
#include "common.cuh"

#include <cstdint>
#include <type_traits>

namespace llmctl::kernels {
namespace {

constexpr int kWarps = 4;
constexpr int kUnroll = 8;  // 16-byte weight loads a lane has in flight

inline __device__ int4 load_weights(const int4* p) {
  int4 v;
  asm("ld.global.nc.L1::no_allocate.L2::256B.v4.s32 {%0, %1, %2, %3}, [%4];"
      : "=r"(v.x), "=r"(v.y), "=r"(v.z), "=r"(v.w)
      : "l"(p));
  return v;
}

// The two 16-bit values of a 32-bit word as floats, the low one first.
inline __device__ float2 unpack(std::uint32_t word, __nv_bfloat16) {
  return make_float2(__uint_as_float(word << 16), __uint_as_float(word & 0xffff0000u));
}
inline __device__ float2 unpack(std::uint32_t word, __half) {
  return __half22float2(*reinterpret_cast<const __half2*>(&word));
}

template <typename T>
inline __device__ float dot8(const int4& w, const int4& x, float sum) {
  const std::uint32_t ws[4] = {static_cast<std::uint32_t>(w.x), static_cast<std::uint32_t>(w.y),
                               static_cast<std::uint32_t>(w.z), static_cast<std::uint32_t>(w.w)};
  const std::uint32_t xs[4] = {static_cast<std::uint32_t>(x.x), static_cast<std::uint32_t>(x.y),
                               static_cast<std::uint32_t>(x.z), static_cast<std::uint32_t>(x.w)};
#pragma unroll
  for (int i = 0; i < 4; ++i) {
    const float2 a = unpack(ws[i], T{}), b = unpack(xs[i], T{});
    sum = fmaf(a.x, b.x, sum);
    sum = fmaf(a.y, b.y, sum);
  }
  return sum;
}

template <typename Out>
inline __device__ Out convert(float x) {
  if constexpr (std::is_same_v<Out, float>)
    return x;
  else
    return from_float<Out>(x);
}

// out[r, f] = x[r] · weight[f] (+ bias[f]) for the kRows rows of x. With kSiluMul the weight is
// [gate | up], `features` rows each, and out[r, f] = silu(x[r] · gate[f]) * (x[r] · up[f]); products are
// rounded to T first, as the separate GEMM and silu_mul would. A feature's row is split over `splits`
// warps of the block (1, 2 or 4: long rows would otherwise leave a second, mostly idle wave of blocks),
// their sums added through shared memory. The first batch of weights is requested before waiting for
// the previous kernel (launch_overlapped: weights are never written during a step), so the start of the
// stream overlaps the end of that kernel.
template <typename T, typename Out, int kRows, bool kSiluMul>
__global__ void __launch_bounds__(kWarps * 32)
    skinny_gemm_kernel(const T* x, int in, const T* weight, int features, int splits, const T* bias, Out* out) {
  constexpr int kBatch = kSiluMul ? kUnroll / 2 : kUnroll;  // 16-byte loads per weight row and batch
  __shared__ float partial[2][kWarps][kRows];  // gate (or plain) and up sums of each warp
  let_next_kernel_start();
  const int warp = threadIdx.x / 32, lane = threadIdx.x % 32;
  const int feature = blockIdx.x * (kWarps / splits) + warp / splits, split = warp % splits;
  const bool active = feature < features;
  const int vectors = in / 8;
  const int begin = vectors * split / splits, end = vectors * (split + 1) / splits;
  const auto* gate = reinterpret_cast<const int4*>(weight) + static_cast<std::int64_t>(feature) * vectors;
  const auto* up = gate + static_cast<std::int64_t>(features) * vectors;
  const auto* rows = reinterpret_cast<const int4*>(x);
  int4 g[kBatch], u[kBatch];
  const auto load_batch = [&](int first) {
#pragma unroll
    for (int k = 0; k < kBatch; ++k) {
      const int v = first + 32 * k;
      if (v >= end) break;
      g[k] = load_weights(gate + v);
      if constexpr (kSiluMul) u[k] = load_weights(up + v);
    }
  };
  if (active) load_batch(begin + lane);
  wait_for_previous_kernel();

  float gate_sum[kRows] = {}, up_sum[kRows] = {};
  for (int first = begin + lane; active && first < end; first += 32 * kBatch) {
    if (first != begin + lane) load_batch(first);
#pragma unroll
    for (int k = 0; k < kBatch; ++k) {
      const int v = first + 32 * k;
      if (v >= end) break;
#pragma unroll
      for (int r = 0; r < kRows; ++r) {
        const int4 xv = __ldg(rows + static_cast<std::int64_t>(r) * vectors + v);
        gate_sum[r] = dot8<T>(g[k], xv, gate_sum[r]);
        if constexpr (kSiluMul) up_sum[r] = dot8<T>(u[k], xv, up_sum[r]);
      }
    }
  }
#pragma unroll
  for (int r = 0; r < kRows; ++r) {
    gate_sum[r] = warp_sum(gate_sum[r]);
    if constexpr (kSiluMul) up_sum[r] = warp_sum(up_sum[r]);
  }
  if (splits > 1) {
    if (lane == 0)
#pragma unroll
      for (int r = 0; r < kRows; ++r) {
        partial[0][warp][r] = gate_sum[r];
        partial[1][warp][r] = up_sum[r];
      }
    __syncthreads();
    if (split != 0) return;
#pragma unroll
    for (int r = 0; r < kRows; ++r)
      for (int w = 1; w < splits; ++w) {
        gate_sum[r] += partial[0][warp + w][r];
        up_sum[r] += partial[1][warp + w][r];
      }
  }
  if (!active) return;
#pragma unroll
  for (int r = 0; r < kRows; ++r) {
    float value = gate_sum[r];
    if constexpr (kSiluMul) {
      const float g = to_float(from_float<T>(value)), u = to_float(from_float<T>(up_sum[r]));
      value = g / (1.0f + __expf(-g)) * u;
    } else if (bias != nullptr) {
      value += to_float(bias[feature]);
    }
    if (lane == r) out[static_cast<std::int64_t>(r) * features + feature] = convert<Out>(value);
  }
}

// Rows of up to 4096 elements per warp: longer ones are split over 2 or 4 warps.
constexpr int kElementsPerWarp = 4096;

template <typename T, typename Out, bool kSiluMul>
void launch(const void* x, std::int64_t rows, std::int64_t in, const void* weight, std::int64_t features,
            const void* bias, void* out, cudaStream_t stream) {
  const int splits = in > 2 * kElementsPerWarp ? 4 : in > kElementsPerWarp ? 2 : 1;
  const int per_block = kWarps / splits;
  const dim3 grid(static_cast<unsigned>((features + per_block - 1) / per_block)), block(kWarps * 32);
  const auto* xs = static_cast<const T*>(x);
  const auto* w = static_cast<const T*>(weight);
  const auto* b = static_cast<const T*>(bias);
  auto* o = static_cast<Out*>(out);
  const int n = static_cast<int>(in), f = static_cast<int>(features);
  static_assert(kSkinnyRows == 2);
  if (rows == 1)
    launch_overlapped(skinny_gemm_kernel<T, Out, 1, kSiluMul>, grid, block, stream, xs, n, w, f, splits, b, o);
  else
    launch_overlapped(skinny_gemm_kernel<T, Out, 2, kSiluMul>, grid, block, stream, xs, n, w, f, splits, b, o);
}

}  // namespace

bool skinny_gemm_supports(std::int64_t rows, std::int64_t in, const void* x, const void* weight) {
  const auto aligned = [](const void* p) { return reinterpret_cast<std::uintptr_t>(p) % 16 == 0; };
  return rows >= 1 && rows <= kSkinnyRows && in % 8 == 0 && in < (1ll << 30) && aligned(x) && aligned(weight);
}

void skinny_gemm(Element e, const void* x, std::int64_t rows, std::int64_t in, const void* weight,
                 std::int64_t out_features, const void* bias, void* out, bool out_f32, cudaStream_t stream) {
  if (!skinny_gemm_supports(rows, in, x, weight)) throw std::runtime_error("skinny_gemm: unsupported shape or alignment");
  LLMCTL_DISPATCH(e, if (out_f32) launch<T, float, false>(x, rows, in, weight, out_features, bias, out, stream);
                  else launch<T, T, false>(x, rows, in, weight, out_features, bias, out, stream);)
  check_launch("skinny_gemm");
}

void skinny_gemm_silu_mul(Element e, const void* x, std::int64_t rows, std::int64_t in, const void* gate_up,
                          std::int64_t width, void* out, cudaStream_t stream) {
  if (!skinny_gemm_supports(rows, in, x, gate_up)) throw std::runtime_error("skinny_gemm: unsupported shape or alignment");
  LLMCTL_DISPATCH(e, launch<T, T, true>(x, rows, in, gate_up, width, nullptr, out, stream);)
  check_launch("skinny_gemm_silu_mul");
}

}  // namespace llmctl::kernels
