// Products of one or two activation rows with a weight matrix: decoding one or two sequences reads
// every weight once per token, so the step is as fast as the weights stream from memory (from three rows
// on, cuBLASLt is as fast or faster: tests/benchmarks/bench_linear.cpp). cuBLASLt's GEMMs of one row
// reach 43-105% of the copy bandwidth on these shapes (docs/benchmarks.md). Two kernels:
// - on sm_90, where a block's shared memory holds the activation rows and two stages of weights, a block
//   per multiprocessor owns a contiguous range of features and streams their weight rows through a ring
//   of shared-memory stages with the bulk copy engine, a warp issuing the copies while eight compute: a
//   few large requests keep more bytes in flight than per-thread loads, and no block waits behind
//   another (Qwen2.5-7B's down product, H200: 32.2 µs against 38.1 for the kernel below). It can take
//   the residual add and RMSNorm before the product into its prologue (ResidualNorm);
// - elsewhere, a warp per output feature streams its weight row with 16-byte loads that bypass L1 (each
//   weight is read once) and keeps the activation rows, which every warp reads, in L1.
#include "hopper.cuh"

#include <algorithm>
#include <cstdint>
#include <type_traits>

namespace llmctl::kernels {
namespace {

constexpr int kWarps = 4;
constexpr int kUnroll = 8;  // 16-byte weight loads a lane has in flight

constexpr int kBulkWarps = 8;                      // computing warps of a bulk block; one more issues copies
constexpr int kMaxStages = 16;
// The bulk kernel's shared memory: barriers (full and empty per stage, x ready), the ring, the activation
// rows, the partial sums. Stages and rows start on 128-byte boundaries: copies to 16- or 64-byte
// boundaries made the products of a layer 9-21% slower (H200).
constexpr int kRingOffset = 384;
static_assert((2 * kMaxStages + 1) * 8 <= kRingOffset);
__host__ __device__ constexpr std::int64_t stage_stride(std::int64_t bytes) { return (bytes + 127) / 128 * 128; }
// A stage: the most whole features that fit, up to kBulkWarps (stages of 32-40 KB: single stream 2.19 s).
constexpr std::int64_t kChunkBytes = 64 << 10;
// Two stages of 56 KB (three of the down product's 37 KB rows) in flight per multiprocessor: the single
// stream (H200) took 2.065-2.076 s with this budget, 2.078-2.094 s with 180-220 KB (three or four
// stages), 2.33 s with 130 KB (the down product's two stages).
constexpr std::int64_t kBulkSharedBytes = 150 << 10;

// Weights are read once: past L1, and on sm_80 and later with the 256 bytes around them fetched into L2.
inline __device__ int4 load_weights(const int4* p) {
  int4 v;
#if __CUDA_ARCH__ >= 800
  asm("ld.global.nc.L1::no_allocate.L2::256B.v4.s32 {%0, %1, %2, %3}, [%4];"
      : "=r"(v.x), "=r"(v.y), "=r"(v.z), "=r"(v.w)
      : "l"(p));
#else
  asm("ld.global.nc.L1::no_allocate.v4.s32 {%0, %1, %2, %3}, [%4];" : "=r"(v.x), "=r"(v.y), "=r"(v.z), "=r"(v.w) : "l"(p));
#endif
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

// A feature's output from its sums: silu(gate) * up, both rounded to T first as the separate GEMM and
// silu_mul would; or the sum plus the bias, if any.
template <typename T, typename Out, bool kSiluMul>
inline __device__ Out feature_output(float sum, float up_sum, const T* bias, int feature) {
  float value = sum;
  if constexpr (kSiluMul) {
    const float g = to_float(from_float<T>(sum)), u = to_float(from_float<T>(up_sum));
    value = silu_times(g, u);
  } else if (bias != nullptr) {
    value += to_float(bias[feature]);
  }
  if constexpr (std::is_same_v<Out, float>)
    return value;
  else
    return from_float<Out>(value);
}

// out[r, f] = x[r] · weight[f] (+ bias[f]) for the kRows rows of x. With kSiluMul the weight is
// [gate | up], `features` rows each, and out[r, f] = silu(x[r] · gate[f]) * (x[r] · up[f]). A feature's
// row is split over `splits` warps of the block (1, 2 or 4: long rows would otherwise leave a second,
// mostly idle wave of blocks), their sums added through shared memory. The first batch of weights is
// requested before waiting for the previous kernel (launch_overlapped: weights are never written during
// a step), so the start of the stream overlaps the end of that kernel.
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
    const Out value = feature_output<T, Out, kSiluMul>(gate_sum[r], up_sum[r], bias, feature);
    if (lane == r) out[static_cast<std::int64_t>(r) * features + feature] = value;
  }
}

// Blocks of the running bulk kernel that have finished reading the residual (launches are serialized on
// the engine's one stream; the last block resets it).
[[maybe_unused]] __device__ unsigned int residual_readers_done = 0;  // unused below sm_90

// The bulk kernel: the same products (and parameters) on sm_90. Block b owns features [features * b / grid,
// features * (b + 1) / grid), `per_chunk` of them to a stage of the ring (`stages` of them): the
// producer warp copies a stage's weight rows (gate and up rows for kSiluMul) when all computing warps
// have released it, completing on the stage's `full` barrier; a computing warp takes 1/segments of one
// feature's row of each stage (segments = kBulkWarps / per_chunk) and leaves its sums in shared memory,
// which the block adds up in a fixed order at the end. The first stages are requested before waiting
// for the previous kernel, as above; the activation rows come by one bulk copy after it, or, with a
// residual, are computed as add_rms_norm would (residual + add rounded to T, then normalized): every
// block normalizes the whole rows while its first stages arrive, and the last block to finish writes
// the sum back to the residual, when no block reads it any more.
template <typename T, typename Out, int kRows, bool kSiluMul>
__global__ void __launch_bounds__(kBulkWarps * 32 + 32, 1)
    bulk_skinny_gemm_kernel(const T* x, int in, const T* weight, int features, const T* bias, Out* out, int per_chunk,
                            int stages, T* residual, const T* add, const T* norm_weight, float eps) {
#if __CUDA_ARCH__ >= 900
  constexpr int kParts = kSiluMul ? 2 : 1;
  extern __shared__ __align__(128) unsigned char shared[];
  auto* full = reinterpret_cast<std::uint64_t*>(shared);
  std::uint64_t* empty = full + kMaxStages;
  std::uint64_t* x_ready = empty + kMaxStages;
  const int vectors = in / 8;
  auto* ring = reinterpret_cast<int4*>(shared + kRingOffset);
  const int stage_vectors = static_cast<int>(stage_stride(kParts * per_chunk * vectors * 16) / 16);
  int4* xs = ring + stages * stage_vectors;
  auto* partial = reinterpret_cast<float*>(xs + kRows * vectors);  // [feature][part][segment][row]
  const int segments = kBulkWarps / per_chunk;
  const int first = static_cast<int>(static_cast<std::int64_t>(features) * blockIdx.x / gridDim.x);
  const int last = static_cast<int>(static_cast<std::int64_t>(features) * (blockIdx.x + 1) / gridDim.x);
  const int chunks = (last - first + per_chunk - 1) / per_chunk;
  const int warp = threadIdx.x / 32, lane = threadIdx.x % 32;

  let_next_kernel_start();
  if (threadIdx.x == 0) {
    for (int s = 0; s < stages; ++s) {
      barrier_init(full + s, 1);
      barrier_init(empty + s, kBulkWarps);
    }
    barrier_init(x_ready, 1);
    barrier_init_fence();
  }
  __syncthreads();

  if (warp == kBulkWarps) {  // the producer: one thread
    if (lane != 0) return;
    const auto* w = reinterpret_cast<const int4*>(weight);
    const auto issue = [&](int c) {
      const int f = first + c * per_chunk;
      const auto bytes = static_cast<std::uint32_t>(min(per_chunk, last - f) * vectors * 16);
      std::uint64_t* bar = full + c % stages;
      int4* stage = ring + (c % stages) * stage_vectors;
      barrier_expect(bar, kParts * bytes);
      bulk_copy(stage, w + static_cast<std::int64_t>(f) * vectors, bytes, bar);
      if constexpr (kSiluMul)
        bulk_copy(stage + per_chunk * vectors, w + static_cast<std::int64_t>(features + f) * vectors, bytes, bar);
    };
    for (int c = 0; c < min(stages, chunks); ++c) issue(c);
    if (residual == nullptr) {
      wait_for_previous_kernel();
      const auto x_bytes = static_cast<std::uint32_t>(kRows * vectors * 16);
      barrier_expect(x_ready, x_bytes);
      bulk_copy(xs, x, x_bytes, x_ready);
    }
    for (int c = stages; c < chunks; ++c) {
      barrier_wait(empty + c % stages, (c / stages + 1) & 1);  // released by its use c - stages
      issue(c);
    }
    return;
  }

  wait_for_previous_kernel();  // before `out`, which kernels before may still read, is written
  // A barrier of the computing warps alone (the producer may have left).
  const auto sync_computing = [] { asm volatile("bar.sync 1, %0;" ::"n"(kBulkWarps * 32) : "memory"); };
  const auto* residual_v = reinterpret_cast<const int4*>(residual);
  const auto* add_v = reinterpret_cast<const int4*>(add);
  // residual + add of vector v (8 elements), rounded to T: as floats in `sum`, packed as the result.
  const auto residual_sum = [&](int v, float (&sum)[8]) {
    const int4 a = residual_v[v], b = add_v[v];
    const T* ae = reinterpret_cast<const T*>(&a);
    const T* be = reinterpret_cast<const T*>(&b);
    int4 packed;
    T* pe = reinterpret_cast<T*>(&packed);
#pragma unroll
    for (int i = 0; i < 8; ++i) {
      pe[i] = from_float<T>(to_float(ae[i]) + to_float(be[i]));
      sum[i] = to_float(pe[i]);
    }
    return packed;
  };
  if (residual == nullptr) {
    barrier_wait(x_ready, 0);
  } else {  // the rounded sums into xs, then normalized there in place
    __shared__ float squares[kRows][kBulkWarps];
#pragma unroll
    for (int r = 0; r < kRows; ++r) {
      float own = 0.0f;
      for (int v = threadIdx.x; v < vectors; v += kBulkWarps * 32) {
        float sum[8];
        xs[r * vectors + v] = residual_sum(r * vectors + v, sum);
#pragma unroll
        for (int i = 0; i < 8; ++i) own += sum[i] * sum[i];
      }
      own = warp_sum(own);
      if (lane == 0) squares[r][warp] = own;
    }
    sync_computing();
    const auto* weight_v = reinterpret_cast<const int4*>(norm_weight);
#pragma unroll
    for (int r = 0; r < kRows; ++r) {
      float total = 0.0f;
      for (int w = 0; w < kBulkWarps; ++w) total += squares[r][w];
      const float scale = rsqrtf(total / static_cast<float>(in) + eps);
      for (int v = threadIdx.x; v < vectors; v += kBulkWarps * 32) {  // each thread its own vectors of above
        int4 packed = xs[r * vectors + v];
        T* pe = reinterpret_cast<T*>(&packed);
        const int4 wv = weight_v[v];
        const T* we = reinterpret_cast<const T*>(&wv);
#pragma unroll
        for (int i = 0; i < 8; ++i) pe[i] = from_float<T>(to_float(pe[i]) * scale * to_float(we[i]));
        xs[r * vectors + v] = packed;
      }
    }
    sync_computing();
  }
  const int feature_in_chunk = warp / segments, segment = warp % segments;
  const int begin = vectors * segment / segments, end = vectors * (segment + 1) / segments;
  for (int c = 0; c < chunks; ++c) {
    const int f = first + c * per_chunk + feature_in_chunk;
    barrier_wait(full + c % stages, (c / stages) & 1);
    const int4* gate = ring + (c % stages) * stage_vectors + feature_in_chunk * vectors;
    const int4* up = gate + per_chunk * vectors;
    float sums[kParts][kRows] = {};
    if (f < last) {
#pragma unroll 4
      for (int v = begin + lane; v < end; v += 32) {
        const int4 g = gate[v];
        int4 u;
        if constexpr (kSiluMul) u = up[v];
#pragma unroll
        for (int r = 0; r < kRows; ++r) {
          const int4 xv = xs[r * vectors + v];
          sums[0][r] = dot8<T>(g, xv, sums[0][r]);
          if constexpr (kSiluMul) sums[1][r] = dot8<T>(u, xv, sums[1][r]);
        }
      }
    }
    __syncwarp();
    if (lane == 0)
      barrier_arrive(empty + c % stages);
    if (f < last) {
      float* p = partial + static_cast<std::int64_t>(f - first) * kParts * segments * kRows;
#pragma unroll
      for (int q = 0; q < kParts; ++q)
#pragma unroll
        for (int r = 0; r < kRows; ++r) {
          const float sum = warp_sum(sums[q][r]);
          if (lane == 0) p[(q * segments + segment) * kRows + r] = sum;
        }
    }
  }
  sync_computing();  // every partial sum is written
  for (int i = threadIdx.x; i < (last - first) * kRows; i += kBulkWarps * 32) {
    const int feature = first + i / kRows, r = i % kRows;
    const float* p = partial + static_cast<std::int64_t>(i / kRows) * kParts * segments * kRows + r;
    float sum[kParts];
#pragma unroll
    for (int q = 0; q < kParts; ++q) {
      sum[q] = 0.0f;
      for (int s = 0; s < segments; ++s) sum[q] += p[(q * segments + s) * kRows];
    }
    out[static_cast<std::int64_t>(r) * features + feature] =
        feature_output<T, Out, kSiluMul>(sum[0], sum[kParts - 1], bias, feature);
  }
  if (residual != nullptr) {
    __shared__ bool last_block;
    __threadfence();
    sync_computing();
    if (threadIdx.x == 0) last_block = atomicAdd(&residual_readers_done, 1u) == gridDim.x - 1;
    sync_computing();
    if (last_block) {
      for (int v = threadIdx.x; v < kRows * vectors; v += kBulkWarps * 32) {
        float sum[8];
        reinterpret_cast<int4*>(residual)[v] = residual_sum(v, sum);
      }
      if (threadIdx.x == 0) residual_readers_done = 0;
    }
  }
#else
  __trap();
#endif
}

// The most shared memory a bulk block takes on this GPU.
std::int64_t bulk_shared_budget() { return std::min<std::int64_t>(kBulkSharedBytes, shared_memory_per_block()); }

// How a bulk launch is laid out: features a stage, stages, shared bytes; none (stages 0) before sm_90 or
// where the activation rows and two stages do not fit in a block's shared memory.
struct BulkLayout {
  int per_chunk = 0, stages = 0;
  std::int64_t shared_bytes = 0;
};
BulkLayout bulk_layout(std::int64_t rows, std::int64_t in, std::int64_t features, bool silu_mul) {
  if (compute_capability_major() < 9) return {};
  const std::int64_t parts = silu_mul ? 2 : 1, row_bytes = parts * in * 2;
  const std::int64_t grid = multiprocessor_count();
  const std::int64_t block_features = (features + grid - 1) / grid;
  const std::int64_t budget = bulk_shared_budget();
  int per_chunk = 1;
  while (per_chunk < kBulkWarps && 2 * per_chunk * row_bytes <= kChunkBytes) per_chunk *= 2;
  for (; per_chunk >= 1; per_chunk /= 2) {  // fewer features a stage where two stages would not fit
    const std::int64_t fixed =
        kRingOffset + rows * in * 2 + block_features * parts * (kBulkWarps / per_chunk) * rows * sizeof(float);
    const std::int64_t stage_bytes = stage_stride(per_chunk * row_bytes);
    const std::int64_t stages = std::min<std::int64_t>(kMaxStages, (budget - fixed) / stage_bytes);
    if (stages >= 2) return {per_chunk, static_cast<int>(stages), fixed + stages * stage_bytes};
  }
  return {};
}

template <typename T, typename Out, int kRows, bool kSiluMul>
void launch_bulk(const BulkLayout& layout, const T* x, int in, const T* weight, int features, const T* bias, Out* out,
                 const ResidualNorm* norm, cudaStream_t stream) {
  constexpr auto kernel = bulk_skinny_gemm_kernel<T, Out, kRows, kSiluMul>;
  reserve_shared_memory<kernel>(static_cast<int>(bulk_shared_budget()), "skinny_gemm");
  launch_overlapped(kernel, dim3(static_cast<unsigned>(multiprocessor_count())), dim3(kBulkWarps * 32 + 32),
                    static_cast<std::size_t>(layout.shared_bytes), stream, x, in, weight, features, bias, out,
                    layout.per_chunk, layout.stages, norm ? static_cast<T*>(norm->residual) : nullptr,
                    norm ? static_cast<const T*>(norm->add) : nullptr, norm ? static_cast<const T*>(norm->weight) : nullptr,
                    norm ? norm->eps : 0.0f);
}

// Rows of up to 4096 elements per warp: longer ones are split over 2 or 4 warps.
constexpr int kElementsPerWarp = 4096;

template <typename T, typename Out, bool kSiluMul>
void launch(const void* x, std::int64_t rows, std::int64_t in, const void* weight, std::int64_t features,
            const void* bias, void* out, const ResidualNorm* norm, cudaStream_t stream) {
  const auto* xs = static_cast<const T*>(x);
  const auto* w = static_cast<const T*>(weight);
  const auto* b = static_cast<const T*>(bias);
  auto* o = static_cast<Out*>(out);
  const int n = static_cast<int>(in), f = static_cast<int>(features);
  static_assert(kSkinnyRows == 2);
  if (const BulkLayout layout = bulk_layout(rows, in, features, kSiluMul); layout.stages > 0) {
    if (rows == 1)
      launch_bulk<T, Out, 1, kSiluMul>(layout, xs, n, w, f, b, o, norm, stream);
    else
      launch_bulk<T, Out, 2, kSiluMul>(layout, xs, n, w, f, b, o, norm, stream);
    return;
  }
  // Only unfused products get here: a fused norm implies the bulk layout (check_operands).
  const int splits = in > 2 * kElementsPerWarp ? 4 : in > kElementsPerWarp ? 2 : 1;
  const int per_block = kWarps / splits;
  const dim3 grid(static_cast<unsigned>((features + per_block - 1) / per_block)), block(kWarps * 32);
  if (rows == 1)
    launch_overlapped(skinny_gemm_kernel<T, Out, 1, kSiluMul>, grid, block, 0, stream, xs, n, w, f, splits, b, o);
  else
    launch_overlapped(skinny_gemm_kernel<T, Out, 2, kSiluMul>, grid, block, 0, stream, xs, n, w, f, splits, b, o);
}

bool aligned(const void* p) { return reinterpret_cast<std::uintptr_t>(p) % 16 == 0; }

// What skinny_gemm and skinny_gemm_silu_mul accept: skinny_gemm_supports, or with a norm
// skinny_gemm_fuses_norm; std::runtime_error otherwise.
void check_operands(std::int64_t rows, std::int64_t in, const void* x, const void* weight, std::int64_t features,
                    bool silu_mul, const ResidualNorm* norm) {
  if (norm == nullptr && !skinny_gemm_supports(rows, in, x, weight))
    throw std::runtime_error("skinny_gemm: unsupported shape or alignment");
  if (norm != nullptr && !skinny_gemm_fuses_norm(rows, in, weight, features, silu_mul, *norm))
    throw std::runtime_error("skinny_gemm: no fused norm for this shape or alignment");
}

}  // namespace

bool skinny_gemm_supports(std::int64_t rows, std::int64_t in, const void* x, const void* weight) {
  return rows >= 1 && rows <= kSkinnyRows && in % 8 == 0 && in < (1ll << 30) && aligned(x) && aligned(weight);
}

bool skinny_gemm_fuses_norm(std::int64_t rows, std::int64_t in, const void* weight, std::int64_t features, bool silu_mul,
                            const ResidualNorm& norm) {
  return skinny_gemm_supports(rows, in, norm.residual, weight) && aligned(norm.add) && aligned(norm.weight) &&
         bulk_layout(rows, in, features, silu_mul).stages > 0;
}

void skinny_gemm(Element e, const void* x, std::int64_t rows, std::int64_t in, const void* weight,
                 std::int64_t out_features, const void* bias, void* out, bool out_f32, cudaStream_t stream,
                 const ResidualNorm* norm) {
  check_operands(rows, in, x, weight, out_features, false, norm);
  LLMCTL_DISPATCH(e, if (out_f32) launch<T, float, false>(x, rows, in, weight, out_features, bias, out, norm, stream);
                  else launch<T, T, false>(x, rows, in, weight, out_features, bias, out, norm, stream);)
  check_launch("skinny_gemm");
}

void skinny_gemm_silu_mul(Element e, const void* x, std::int64_t rows, std::int64_t in, const void* gate_up,
                          std::int64_t width, void* out, cudaStream_t stream, const ResidualNorm* norm) {
  check_operands(rows, in, x, gate_up, width, true, norm);
  LLMCTL_DISPATCH(e, launch<T, T, true>(x, rows, in, gate_up, width, nullptr, out, norm, stream);)
  check_launch("skinny_gemm_silu_mul");
}

}  // namespace llmctl::kernels
