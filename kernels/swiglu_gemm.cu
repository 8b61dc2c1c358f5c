// The gate and up products with silu_mul fused, out = silu(x · gateᵀ) * (x · upᵀ), for a few hundred rows
// on sm_90a, where the products are bound by arithmetic and cuBLASLt plus a separate silu_mul leave time
// (docs/benchmarks.md, "gate_up and silu_mul in one Hopper kernel").
//
// A block is a warpgroup that issues tensor copies and two that multiply (warpgroup MMAs). A tile is all
// rows of x against kFeatures gate rows and the same up rows: one 144-column MMA, whose accumulators hold
// a feature's gate and up sums in the same thread, so silu_mul needs no exchange. Each multiplying
// warpgroup takes half of up to 128 or 256 rows. Stages of 64 k columns (x rows and the tile's 144
// weight rows, 128 bytes each, 128-byte swizzled) stream through shared memory; blocks stay resident and
// take tiles blockIdx.x, + gridDim.x, ... The weights of the first stages load before the kernel before
// has finished.
#include "device_attributes.hpp"
#include "hopper.cuh"
#include "kernels.hpp"
#include "mma.cuh"

#include <cudaTypedefs.h>

#include <algorithm>
#include <stdexcept>
#include <string>

namespace llmctl::kernels {
namespace {

constexpr int kTileK = 64;      // k columns a stage: one 128-byte swizzled row of 16-bit elements
constexpr int kFeatures = 72;   // gate (and up) rows a tile: two 64 × 144 accumulators a thread fit in registers
constexpr int kThreads = 384;   // the copying warpgroup, then the two multiplying ones
constexpr int kSharedBudget = 227 * 1024;

// kRowBlocks 64-row MMAs a multiplying warpgroup: x rows 128 (up to 128 rows) or 256.
template <int kRowBlocks>
struct Layout {
  static constexpr int kRows = 128 * kRowBlocks;
  static constexpr int kXBytes = kRows * kTileK * 2;
  static constexpr int kWeightBytes = 2 * kFeatures * kTileK * 2;
  static constexpr int kStageBytes = kXBytes + kWeightBytes;  // a multiple of 1,024: stages stay aligned
  static constexpr int kStages = (kSharedBudget - 1024 - 256) / kStageBytes;
  static constexpr int kSharedBytes = kStages * kStageBytes + 1024 + 2 * kStages * 8;
};

template <typename T, int kRowBlocks>
__global__ void __launch_bounds__(kThreads, 1)
    swiglu_gemm_kernel(const __grid_constant__ CUtensorMap x_map, const __grid_constant__ CUtensorMap gate_map,
                       const __grid_constant__ CUtensorMap up_map, int rows, int width, int k_tiles, T* out) {
#if defined(__CUDA_ARCH_FEAT_SM90_ALL)
  using L = Layout<kRowBlocks>;
  extern __shared__ unsigned char shared_raw[];
  unsigned char* shared = shared_raw + ((1024 - (shared_address(shared_raw) & 1023)) & 1023);
  auto* full = reinterpret_cast<std::uint64_t*>(shared + L::kStages * L::kStageBytes);  // stage loaded
  auto* empty = full + L::kStages;                                                     // stage read by both
  const int tiles = (width + kFeatures - 1) / kFeatures;
  if (threadIdx.x == 0) {
    for (int s = 0; s < L::kStages; ++s) {
      barrier_init(full + s, 1);
      barrier_init(empty + s, 2);
    }
    barrier_init_fence();
  }
  __syncthreads();
  let_next_kernel_start();

  if (threadIdx.x < 128) {  // copies: one thread issues them all
    asm volatile("setmaxnreg.dec.sync.aligned.u32 40;");
    if (threadIdx.x != 0) return;
    const int count = (tiles - blockIdx.x + gridDim.x - 1) / gridDim.x * k_tiles;  // stages this block streams
    const auto load_weights = [&](int it) {
      const int s = it % L::kStages, tile = blockIdx.x + it / k_tiles * gridDim.x, k = it % k_tiles * kTileK;
      unsigned char* stage = shared + s * L::kStageBytes;
      barrier_expect(full + s, L::kStageBytes);
      tensor_copy(stage + L::kXBytes, &gate_map, k, tile * kFeatures, full + s);
      tensor_copy(stage + L::kXBytes + L::kWeightBytes / 2, &up_map, k, tile * kFeatures, full + s);
    };
    for (int it = 0; it < min(count, L::kStages); ++it) load_weights(it);
    wait_for_previous_kernel();  // which writes x
    for (int it = 0; it < count; ++it) {
      const int s = it % L::kStages;
      if (it >= L::kStages) {
        barrier_wait(empty + s, (it / L::kStages - 1) & 1);
        load_weights(it);
      }
      unsigned char* x = shared + s * L::kStageBytes;
      tensor_copy(x, &x_map, it % k_tiles * kTileK, 0, full + s);
      tensor_copy(x + L::kXBytes / 2, &x_map, it % k_tiles * kTileK, rows - L::kRows / 2, full + s);
    }
    return;
  }

  asm volatile("setmaxnreg.inc.sync.aligned.u32 232;");
  wait_for_previous_kernel();  // out may still be read by earlier kernels
  // The warpgroups' halves of the x rows: the first and the last kRows / 2 (overlapping below kRows rows,
  // where the second stores only rows the first does not have). From 64 rows on no copy reaches past the
  // last row: those read as zeros, but slowly (docs/benchmarks.md).
  const int half = threadIdx.x / 128 - 1;
  const int first_row = half == 0 ? 0 : rows - L::kRows / 2, skip_below = half == 0 ? 0 : L::kRows / 2;
  const int warp = threadIdx.x % 128 / 32, lane = threadIdx.x % 32;
  float sums[kRowBlocks][kFeatures];  // a 64 × 144 accumulator over 128 threads, each row block
  int it = 0;
  for (int tile = blockIdx.x; tile < tiles; tile += gridDim.x) {
    for (int kt = 0; kt < k_tiles; ++kt, ++it) {
      const int s = it % L::kStages;
      barrier_wait(full + s, (it / L::kStages) & 1);
      const unsigned char* stage = shared + s * L::kStageBytes;
      wgmma_fence();
#pragma unroll
      for (int kk = 0; kk < kTileK / 16; ++kk) {
        const std::uint64_t weights = wgmma_operand(stage + L::kXBytes + kk * 32);
#pragma unroll
        for (int b = 0; b < kRowBlocks; ++b)
          wgmma_m64n144k16<T>(sums[b], wgmma_operand(stage + (half * kRowBlocks + b) * 64 * 128 + kk * 32),
                              weights, kt > 0 || kk > 0);
      }
      wgmma_commit();
      wgmma_wait<1>();  // the stage before this one has been read: the copies may refill it
      if (kt > 0 && threadIdx.x % 128 == 0) barrier_arrive(empty + (it - 1) % L::kStages);
    }
    wgmma_wait<0>();
    if (threadIdx.x % 128 == 0) barrier_arrive(empty + (it - 1) % L::kStages);

    // Gate column c sits in 8-column block c / 8, up column c in block c / 8 + kFeatures / 8.
#pragma unroll
    for (int b = 0; b < kRowBlocks; ++b)
#pragma unroll
      for (int h = 0; h < 2; ++h) {
        const int row = first_row + b * 64 + warp * 16 + lane / 4 + 8 * h;
        if (row < skip_below) continue;
#pragma unroll
        for (int j = 0; j < kFeatures / 8; ++j) {
          const int column = tile * kFeatures + j * 8 + 2 * (lane % 4);
          if (column >= width) continue;
          float value[2];
#pragma unroll
          for (int e = 0; e < 2; ++e) {  // rounded to T first, as the separate product and silu_mul would
            const float g = to_float(from_float<T>(sums[b][4 * j + 2 * h + e]));
            const float u = to_float(from_float<T>(sums[b][4 * (j + kFeatures / 8) + 2 * h + e]));
            value[e] = silu_times(g, u);
          }
          *reinterpret_cast<std::uint32_t*>(out + static_cast<std::int64_t>(row) * width + column) =
              pack<T>(value[0], value[1]);
        }
      }
  }
#else
  __trap();
#endif
}

// A 2D tensor map over `outer` rows of `inner` elements, boxes of kTileK × box_rows, 128-byte swizzled;
// rows and columns beyond it read as zeros.
CUtensorMap tensor_map(Element e, const void* base, std::int64_t inner, std::int64_t outer, int box_rows) {
  static const auto encode = [] {
    void* function = nullptr;
    cudaDriverEntryPointQueryResult found{};
    if (cudaGetDriverEntryPointByVersion("cuTensorMapEncodeTiled", &function, 12000, cudaEnableDefault, &found) !=
            cudaSuccess ||
        found != cudaDriverEntryPointSuccess)
      throw std::runtime_error("swiglu_gemm: the driver has no cuTensorMapEncodeTiled");
    return reinterpret_cast<PFN_cuTensorMapEncodeTiled_v12000>(function);
  }();
  CUtensorMap map;
  const cuuint64_t dims[2] = {static_cast<cuuint64_t>(inner), static_cast<cuuint64_t>(outer)};
  const cuuint64_t strides[1] = {static_cast<cuuint64_t>(inner) * 2};
  const cuuint32_t box[2] = {kTileK, static_cast<cuuint32_t>(box_rows)};
  const cuuint32_t element_strides[2] = {1, 1};
  const CUresult result =
      encode(&map, e == Element::bf16 ? CU_TENSOR_MAP_DATA_TYPE_BFLOAT16 : CU_TENSOR_MAP_DATA_TYPE_FLOAT16, 2,
             const_cast<void*>(base), dims, strides, box, element_strides, CU_TENSOR_MAP_INTERLEAVE_NONE,
             CU_TENSOR_MAP_SWIZZLE_128B, CU_TENSOR_MAP_L2_PROMOTION_L2_256B, CU_TENSOR_MAP_FLOAT_OOB_FILL_NONE);
  if (result != CUDA_SUCCESS)
    throw std::runtime_error("swiglu_gemm: cuTensorMapEncodeTiled failed (" + std::to_string(result) + ")");
  return map;
}

template <typename T, int kRowBlocks>
void launch(Element e, const void* x, std::int64_t rows, std::int64_t in, const void* gate_up, std::int64_t width,
            void* out, cudaStream_t stream) {
  using L = Layout<kRowBlocks>;
  constexpr auto kernel = swiglu_gemm_kernel<T, kRowBlocks>;
  reserve_shared_memory<kernel>(L::kSharedBytes, "swiglu_gemm");
  const auto* up = static_cast<const T*>(gate_up) + width * in;
  const std::int64_t tiles = (width + kFeatures - 1) / kFeatures;
  launch_overlapped(kernel, dim3(static_cast<unsigned>(std::min<std::int64_t>(tiles, multiprocessor_count()))),
                    dim3(kThreads), L::kSharedBytes, stream, tensor_map(e, x, in, rows, L::kRows / 2),
                    tensor_map(e, gate_up, in, width, kFeatures), tensor_map(e, up, in, width, kFeatures),
                    static_cast<int>(rows), static_cast<int>(width), static_cast<int>((in + kTileK - 1) / kTileK),
                    static_cast<T*>(out));
}

}  // namespace

bool swiglu_gemm_supports(std::int64_t rows, std::int64_t in, std::int64_t width, const void* x, const void* gate_up,
                          const void* out) {
#if defined(LLMCTL_HAS_SM90A)
  // Tiles round-robin over the multiprocessors: a width whose last wave is mostly empty stays with
  // cuBLASLt, whose tiles fit it.
  const std::int64_t tiles = (width + kFeatures - 1) / kFeatures, sms = multiprocessor_count();
  const std::int64_t slots = (tiles + sms - 1) / sms * sms;
  const auto aligned = [](const void* p, std::uintptr_t bytes) {
    return reinterpret_cast<std::uintptr_t>(p) % bytes == 0;
  };
  return compute_capability_major() == 9 && rows >= kSwigluGemmMinRows && rows <= kSwigluGemmMaxRows && in % 8 == 0 &&
         width % 2 == 0 && 10 * tiles >= 9 * slots && aligned(x, 16) && aligned(gate_up, 16) && aligned(out, 4);
#else
  (void)rows, (void)in, (void)width, (void)x, (void)gate_up, (void)out;
  return false;
#endif
}

void swiglu_gemm(Element e, const void* x, std::int64_t rows, std::int64_t in, const void* gate_up, std::int64_t width,
                 void* out, cudaStream_t stream) {
  if (!swiglu_gemm_supports(rows, in, width, x, gate_up, out))
    throw std::runtime_error("swiglu_gemm: unsupported shape, alignment or GPU");
  LLMCTL_DISPATCH(e, {
    if (rows <= 128)
      launch<T, 1>(e, x, rows, in, gate_up, width, out, stream);
    else
      launch<T, 2>(e, x, rows, in, gate_up, width, out, stream);
  })
  check_launch("swiglu_gemm");
}

}  // namespace llmctl::kernels
