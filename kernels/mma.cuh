// Tensor-core building blocks of the attention kernels (sm_80 and later: mma.sync m16n8k16 with f32
// accumulation, ldmatrix, cp.async). In an m16n8 accumulator, lane l holds rows l / 4 and l / 4 + 8,
// columns 2 (l % 4) and 2 (l % 4) + 1; an a operand of 16x16 is four registers of two 16-bit values in
// the order (row, column) (g, 2t), (g + 8, 2t), (g, 2t + 8), (g + 8, 2t + 8).
#pragma once

#include "common.cuh"

#include <cmath>
#include <cstdint>

namespace llmctl::kernels {

// Scores are kept in log2 units, so that each probability is one exp2.
constexpr float kLog2e = 1.4426950408889634f;

// 2^x as the one MUFU.EX2 instruction: exp2f without -ftz compiles to ex2.approx.f32, which keeps
// subnormal results at the cost of a range test and two multiplies around it. Probabilities under
// 2^-126 of the row's largest add nothing to a softmax, so they may flush to zero.
inline __device__ float exp2_flush(float x) {
  float y;
  asm("ex2.approx.ftz.f32 %0, %1;" : "=f"(y) : "f"(x));
  return y;
}

// Four 8x8 matrices of 16-bit elements; lane i gives the address of row i % 8 of matrix i / 8.
inline __device__ void ldmatrix_x4(std::uint32_t (&r)[4], const void* row) {
  asm volatile("ldmatrix.sync.aligned.m8n8.x4.shared.b16 {%0, %1, %2, %3}, [%4];"
               : "=r"(r[0]), "=r"(r[1]), "=r"(r[2]), "=r"(r[3])
               : "r"(shared_address(row)));
}
inline __device__ void ldmatrix_x4_trans(std::uint32_t (&r)[4], const void* row) {
  asm volatile("ldmatrix.sync.aligned.m8n8.x4.trans.shared.b16 {%0, %1, %2, %3}, [%4];"
               : "=r"(r[0]), "=r"(r[1]), "=r"(r[2]), "=r"(r[3])
               : "r"(shared_address(row)));
}

// d += a (16x16, row major) x b (16x8, column major).
template <typename T>
inline __device__ void mma(float (&d)[4], const std::uint32_t (&a)[4], std::uint32_t b0, std::uint32_t b1);
template <>
inline __device__ void mma<__nv_bfloat16>(float (&d)[4], const std::uint32_t (&a)[4], std::uint32_t b0, std::uint32_t b1) {
#if __CUDA_ARCH__ >= 800
  asm volatile("mma.sync.aligned.m16n8k16.row.col.f32.bf16.bf16.f32 {%0, %1, %2, %3}, {%4, %5, %6, %7}, {%8, %9}, "
               "{%0, %1, %2, %3};"
               : "+f"(d[0]), "+f"(d[1]), "+f"(d[2]), "+f"(d[3])
               : "r"(a[0]), "r"(a[1]), "r"(a[2]), "r"(a[3]), "r"(b0), "r"(b1));
#else
  __trap();
#endif
}
template <>
inline __device__ void mma<__half>(float (&d)[4], const std::uint32_t (&a)[4], std::uint32_t b0, std::uint32_t b1) {
#if __CUDA_ARCH__ >= 800
  asm volatile("mma.sync.aligned.m16n8k16.row.col.f32.f16.f16.f32 {%0, %1, %2, %3}, {%4, %5, %6, %7}, {%8, %9}, "
               "{%0, %1, %2, %3};"
               : "+f"(d[0]), "+f"(d[1]), "+f"(d[2]), "+f"(d[3])
               : "r"(a[0]), "r"(a[1]), "r"(a[2]), "r"(a[3]), "r"(b0), "r"(b1));
#else
  __trap();
#endif
}

// Two floats as the two 16-bit halves of an mma operand register, the first in the low half.
template <typename T>
inline __device__ std::uint32_t pack(float lo, float hi);
template <>
inline __device__ std::uint32_t pack<__nv_bfloat16>(float lo, float hi) {
  const __nv_bfloat162 v = __floats2bfloat162_rn(lo, hi);
  return *reinterpret_cast<const std::uint32_t*>(&v);
}
template <>
inline __device__ std::uint32_t pack<__half>(float lo, float hi) {
  const __half2 v = __floats2half2_rn(lo, hi);
  return *reinterpret_cast<const std::uint32_t*>(&v);
}

// 16 bytes from global to shared memory without passing through registers; zeros when !valid.
inline __device__ void copy_async(void* shared, const void* global, bool valid) {
#if __CUDA_ARCH__ >= 800
  asm volatile("cp.async.cg.shared.global [%0], [%1], 16, %2;" ::"r"(shared_address(shared)), "l"(global),
               "r"(valid ? 16 : 0));
#else
  __trap();
#endif
}

// Starts copying keys and values [key0, key0 + kKeys) of one kv head from the paged cache into
// shared-memory rows of kDim + 8 elements (cp.async, one commit group); keys at or past `end` become zeros.
// Unrolled over the block's kThreads: each thread owns one 16-byte column of every kThreads / (kDim / 8)-th
// key, and reads all their block-table entries before its first copy, so a tile waits on one table read,
// not on one per key.
template <typename T, int kDim, int kKeys, int kThreads>
inline __device__ void load_kv_tile(const T* keys, const T* values, const std::int32_t* table, int page_shift,
                                    std::int64_t kv_width, std::int64_t head_offset, std::int64_t key0,
                                    std::int64_t end, T* k_tile, T* v_tile) {
  constexpr int kChunks = kDim / 8;
  constexpr int kKeyStep = kThreads / kChunks;
  constexpr int kPerThread = kKeys / kKeyStep;
  static_assert(kThreads % kChunks == 0 && kKeys % kKeyStep == 0, "threads must tile the keys' columns");
  const int c = threadIdx.x % kChunks, first = threadIdx.x / kChunks;
  std::int32_t page[kPerThread];
#pragma unroll
  for (int i = 0; i < kPerThread; ++i) {
    const std::int64_t j = key0 + first + i * kKeyStep;
    page[i] = j < end ? table[j >> page_shift] : 0;
  }
#pragma unroll
  for (int i = 0; i < kPerThread; ++i) {
    const int key = first + i * kKeyStep;
    const std::int64_t j = key0 + key;
    const std::int64_t offset = slot_in_page(page[i], page_shift, j) * kv_width + head_offset + c * 8;
    copy_async(k_tile + key * (kDim + 8) + c * 8, keys + offset, j < end);
    copy_async(v_tile + key * (kDim + 8) + c * 8, values + offset, j < end);
  }
  asm volatile("cp.async.commit_group;");
}

// FlashAttention-2's online softmax for kRowTiles x 16 query rows of one warp, in registers: for each
// 16-row tile, this lane's rows g and g + 8 (g = lane / 4), their running max in log2 units of the scaled
// scores, this lane's columns' share of each row's sum, and the unnormalised output.
template <int kDim, int kRowTiles = 1>
struct OnlineSoftmax {
  float output[kRowTiles][kDim / 8][4] = {};
  float max[kRowTiles][2];
  float sum[kRowTiles][2] = {};
  __device__ OnlineSoftmax() {
#pragma unroll
    for (int r = 0; r < kRowTiles; ++r) max[r][0] = max[r][1] = -INFINITY;
  }
};

// s = Q Kᵀ for the warp's kRowTiles x 16 rows against kKeyTiles x 8 keys (an even number) in shared-memory
// rows of kSteps x 16 + 8 elements. `load_q(r, k, a)` gives the a operand of row tile r and 16-dim step k,
// from registers or shared memory. Each ldmatrix of 16 keys x 16 dims gives the b operands of two key
// tiles, for every row tile; one step at a time keeps the a operands in flight to 4 registers a row tile.
template <typename T, int kSteps, int kRowTiles, int kKeyTiles, typename LoadQ>
inline __device__ void score_tile(LoadQ load_q, const T* k_tile, float (&s)[kRowTiles][kKeyTiles][4]) {
  static_assert(kKeyTiles % 2 == 0, "key tiles go in pairs");
  constexpr int kStride = kSteps * 16 + 8;
  const int lane = threadIdx.x % 32;
#pragma unroll
  for (int r = 0; r < kRowTiles; ++r)
#pragma unroll
    for (int n = 0; n < kKeyTiles; ++n)
#pragma unroll
      for (int e = 0; e < 4; ++e) s[r][n][e] = 0.0f;
#pragma unroll
  for (int k = 0; k < kSteps; ++k) {
    std::uint32_t a[kRowTiles][4];
#pragma unroll
    for (int r = 0; r < kRowTiles; ++r) load_q(r, k, a[r]);
#pragma unroll
    for (int n = 0; n < kKeyTiles; n += 2) {
      std::uint32_t b[4];  // keys n * 8 + (0..7), then (n + 1) * 8 + (0..7); dims 0..7, then 8..15 of each
      ldmatrix_x4(b, k_tile + (n * 8 + lane / 16 * 8 + lane % 8) * kStride + k * 16 + lane / 8 % 2 * 8);
#pragma unroll
      for (int r = 0; r < kRowTiles; ++r) {
        mma<T>(s[r][n], a[r], b[0], b[1]);
        mma<T>(s[r][n + 1], a[r], b[2], b[3]);
      }
    }
  }
}

// Folds a tile of raw scores (q·k, -INFINITY where hidden) into the softmax, in log2 units after scaling
// by `scale_log2` (folded into the exponent's FFMA), then adds P V for the tile's values (rows of kDim + 8
// elements). P goes from the score accumulators to the a operands of 16-key steps without leaving
// registers; each ldmatrix of values serves every row tile.
template <typename T, int kDim, int kRowTiles, int kKeyTiles>
inline __device__ void add_tile(OnlineSoftmax<kDim, kRowTiles>& state, const float (&s)[kRowTiles][kKeyTiles][4],
                                float scale_log2, const T* v_tile) {
  constexpr int kStride = kDim + 8;
  const int lane = threadIdx.x % 32;
  float base[kRowTiles][2];
#pragma unroll
  for (int r = 0; r < kRowTiles; ++r)
#pragma unroll
    for (int h = 0; h < 2; ++h) {  // a row's columns are spread over the 4 lanes of its g
      float tile_max = -INFINITY;
#pragma unroll
      for (int n = 0; n < kKeyTiles; ++n) tile_max = fmaxf(tile_max, fmaxf(s[r][n][2 * h], s[r][n][2 * h + 1]));
      tile_max = fmaxf(tile_max, __shfl_xor_sync(0xffffffffu, tile_max, 1));
      tile_max = fmaxf(tile_max, __shfl_xor_sync(0xffffffffu, tile_max, 2));
      const float new_max = fmaxf(state.max[r][h], tile_max * scale_log2);
      base[r][h] = new_max == -INFINITY ? 0.0f : new_max;  // a row with nothing visible yet stays at zero
      const float alpha = exp2_flush(state.max[r][h] - base[r][h]);
      state.max[r][h] = new_max;
      state.sum[r][h] *= alpha;
#pragma unroll
      for (int n = 0; n < kDim / 8; ++n) {
        state.output[r][n][2 * h] *= alpha;
        state.output[r][n][2 * h + 1] *= alpha;
      }
    }
#pragma unroll
  for (int kk = 0; kk < kKeyTiles / 2; ++kk) {
    std::uint32_t a[kRowTiles][4];
#pragma unroll
    for (int r = 0; r < kRowTiles; ++r) {
      float p[2][4];
#pragma unroll
      for (int half = 0; half < 2; ++half)
#pragma unroll
        for (int e = 0; e < 4; ++e) {
          p[half][e] = exp2_flush(fmaf(s[r][2 * kk + half][e], scale_log2, -base[r][e / 2]));
          state.sum[r][e / 2] += p[half][e];
        }
      a[r][0] = pack<T>(p[0][0], p[0][1]);
      a[r][1] = pack<T>(p[0][2], p[0][3]);
      a[r][2] = pack<T>(p[1][0], p[1][1]);
      a[r][3] = pack<T>(p[1][2], p[1][3]);
    }
#pragma unroll
    for (int n = 0; n < kDim / 8; n += 2) {
      std::uint32_t b[4];
      ldmatrix_x4_trans(b, v_tile + (kk * 16 + lane % 16) * kStride + n * 8 + lane / 16 * 8);
#pragma unroll
      for (int r = 0; r < kRowTiles; ++r) {
        mma<T>(state.output[r][n], a[r], b[0], b[1]);
        mma<T>(state.output[r][n + 1], a[r], b[2], b[3]);
      }
    }
  }
}

// Completes each row's sum over its 4 lanes, after the last tile.
template <int kDim, int kRowTiles>
inline __device__ void finish(OnlineSoftmax<kDim, kRowTiles>& state) {
#pragma unroll
  for (int r = 0; r < kRowTiles; ++r)
#pragma unroll
    for (int h = 0; h < 2; ++h) {
      state.sum[r][h] += __shfl_xor_sync(0xffffffffu, state.sum[r][h], 1);
      state.sum[r][h] += __shfl_xor_sync(0xffffffffu, state.sum[r][h], 2);
    }
}

}  // namespace llmctl::kernels
