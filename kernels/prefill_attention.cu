// Causal attention for prefill chunks on the tensor cores (FlashAttention-2's scheme with wmma). The
// query rows of one kv head are the (token, q head of its group) pairs of a chunk, flattened: a block
// takes 64 of them, so a key and value tile gathered from the paged cache into shared memory serves every
// q head that shares it (GQA). Each of the block's 4 warps owns 16 rows; S = QKᵀ and PV run as 16x16x16
// bf16/fp16 matrix products with f32 accumulation, and an online softmax keeps one pass over the keys.
// Decode tokens (one query) stay with paged_attention.cu.
#include "common.cuh"

#include <mma.h>

#include <cfloat>

namespace llmctl::kernels {
namespace {

using namespace nvcuda;

constexpr int kQueryTile = 64;
constexpr int kKeyTile = 64;
constexpr int kWarps = 4;
constexpr int kRowsPerWarp = kQueryTile / kWarps;  // 16
// Shared-memory rows are padded (16 bytes for 16-bit tiles, 16 bytes for f32 ones), so that the 16 rows
// a matrix fragment reads start on different banks instead of all on bank 0.
constexpr int kScoreStride = kKeyTile + 4;  // f32 S
constexpr int kProbStride = kKeyTile + 8;   // 16-bit P
__host__ __device__ constexpr int tile_stride(int dim) { return dim + 8; }   // 16-bit Q, K, V
__host__ __device__ constexpr int output_stride(int dim) { return dim + 4; }  // f32 O and PV

struct SharedLayout {
  int dim;
  // Q, K and V tiles, then per warp: S, P, O, PV and the rows' running max and sum (32-byte aligned
  // offsets throughout, as wmma wants).
  __host__ __device__ std::size_t queries() const { return 0; }
  __host__ __device__ std::size_t keys() const { return kQueryTile * tile_stride(dim) * 2; }
  __host__ __device__ std::size_t values() const { return keys() + kKeyTile * tile_stride(dim) * 2; }
  __host__ __device__ std::size_t warp(int w) const { return values() + kKeyTile * tile_stride(dim) * 2 + w * per_warp(); }
  __host__ __device__ std::size_t probabilities() const { return 16 * kScoreStride * 4; }
  __host__ __device__ std::size_t output() const { return probabilities() + 16 * kProbStride * 2; }
  __host__ __device__ std::size_t per_warp() const { return output() + 2 * 16 * output_stride(dim) * 4 + 2 * 16 * 4; }
  __host__ __device__ std::size_t total() const { return warp(kWarps); }
};

template <typename T, int kDim>
__global__ void __launch_bounds__(kWarps * 32)
    prefill_attention_kernel(const T* qkv, std::int64_t row_width, Heads heads, const T* keys, const T* values,
                             StepView step, const PrefillTile* tiles, float scale, std::int64_t window, T* out) {
  extern __shared__ __align__(128) unsigned char shared[];
  const SharedLayout layout{kDim};
  const PrefillTile tile = tiles[blockIdx.x];
  const int kv_head = blockIdx.y;
  const int group = heads.q_heads / heads.kv_heads;
  const int warp = threadIdx.x / 32, lane = threadIdx.x % 32;
  const std::int64_t kv_width = static_cast<std::int64_t>(heads.kv_heads) * kDim;
  const std::int32_t* table = step.block_tables + static_cast<std::int64_t>(tile.sequence) * step.max_blocks_per_seq;

  T* q_tile = reinterpret_cast<T*>(shared + layout.queries());
  T* k_tile = reinterpret_cast<T*>(shared + layout.keys());
  T* v_tile = reinterpret_cast<T*>(shared + layout.values());
  unsigned char* mine = shared + layout.warp(warp);
  float* s_tile = reinterpret_cast<float*>(mine);
  T* p_tile = reinterpret_cast<T*>(mine + layout.probabilities());
  float* o_acc = reinterpret_cast<float*>(mine + layout.output());
  constexpr int kQ = tile_stride(kDim), kO = output_stride(kDim);
  float* pv = o_acc + 16 * kO;
  float* row_max = pv + 16 * kO;
  float* row_sum = row_max + 16;

  // Flat row f of the chunk is token f / group, q head kv_head * group + f % group. Rows past the chunk
  // are zeros and never written.
  const std::int64_t rows = static_cast<std::int64_t>(tile.count) * group;
  const std::int64_t chunk_position = step.positions[tile.first_token];
  const std::int64_t first_position = chunk_position + tile.first_flat / group;
  const std::int64_t last_position = chunk_position + (min(static_cast<std::int64_t>(tile.first_flat) + kQueryTile, rows) - 1) / group;
  constexpr int kVectors = kDim * 2 / 16;
  for (int i = threadIdx.x; i < kQueryTile * kVectors; i += blockDim.x) {
    const int row = i / kVectors, part = i % kVectors;
    const std::int64_t flat = tile.first_flat + row;
    int4 value = make_int4(0, 0, 0, 0);
    if (flat < rows) {
      const std::int64_t token = tile.first_token + flat / group;
      const std::int64_t head = static_cast<std::int64_t>(kv_head) * group + flat % group;
      value = reinterpret_cast<const int4*>(qkv + token * row_width + head * kDim)[part];
    }
    reinterpret_cast<int4*>(q_tile + row * kQ)[part] = value;
  }
  const int first_row = warp * kRowsPerWarp;
  for (int i = lane; i < 16 * kO; i += 32) o_acc[i] = 0.0f;
  if (lane < 16) {
    row_max[lane] = -FLT_MAX;
    row_sum[lane] = 0.0f;
  }
  __syncthreads();
  wmma::fragment<wmma::matrix_a, 16, 16, 16, T, wmma::row_major> q[kDim / 16];
#pragma unroll
  for (int k = 0; k < kDim / 16; ++k) wmma::load_matrix_sync(q[k], q_tile + first_row * kQ + k * 16, kQ);

  const std::int64_t first_key = window > 0 ? max(static_cast<std::int64_t>(0), first_position - window + 1) : 0;
  const std::int64_t key_start = (first_key / kKeyTile) * kKeyTile;
  for (std::int64_t key0 = key_start; key0 <= last_position; key0 += kKeyTile) {
    __syncthreads();  // the previous tile's keys and values are no longer read
    gather_kv_tile(keys, values, table, step.block_size, kv_width, static_cast<std::int64_t>(kv_head) * kDim, kDim, key0,
                   kKeyTile, last_position + 1, kQ, k_tile, v_tile);
    __syncthreads();

    // S = Q Kᵀ for this warp's rows.
#pragma unroll
    for (int n = 0; n < kKeyTile / 16; ++n) {
      wmma::fragment<wmma::accumulator, 16, 16, 16, float> s;
      wmma::fill_fragment(s, 0.0f);
#pragma unroll
      for (int k = 0; k < kDim / 16; ++k) {
        wmma::fragment<wmma::matrix_b, 16, 16, 16, T, wmma::col_major> kt;
        wmma::load_matrix_sync(kt, k_tile + n * 16 * kQ + k * 16, kQ);
        wmma::mma_sync(s, q[k], kt, s);
      }
      wmma::store_matrix_sync(s_tile + n * 16, s, kScoreStride, wmma::mem_row_major);
    }
    __syncwarp();

    // Online softmax: two lanes per row, 32 columns each.
    {
      const int r = lane / 2, half = lane % 2;
      const std::int64_t position = chunk_position + (tile.first_flat + first_row + r) / group;
      float* s_row = s_tile + r * kScoreStride + half * 32;
      float tile_max = -FLT_MAX;
      for (int c = 0; c < 32; ++c) {
        const std::int64_t j = key0 + half * 32 + c;
        const bool visible = j <= position && j >= first_key && (window <= 0 || j > position - window);
        s_row[c] = visible ? s_row[c] * scale : -FLT_MAX;
        tile_max = fmaxf(tile_max, s_row[c]);
      }
      tile_max = fmaxf(tile_max, __shfl_xor_sync(0xffffffffu, tile_max, 1));
      const float old_max = row_max[r];
      const float new_max = fmaxf(old_max, tile_max);
      const float alpha = __expf(old_max - new_max);
      float sum = 0.0f;
      T* p_row = p_tile + r * kProbStride + half * 32;
      for (int c = 0; c < 32; ++c) {
        const float p = s_row[c] == -FLT_MAX ? 0.0f : __expf(s_row[c] - new_max);
        sum += p;
        p_row[c] = from_float<T>(p);
      }
      sum += __shfl_xor_sync(0xffffffffu, sum, 1);
      __syncwarp();
      if (half == 0) {
        row_max[r] = new_max;
        row_sum[r] = row_sum[r] * alpha + sum;
      }
      // Rescale this row's output by alpha (each lane half of the columns).
      for (int d = half * (kDim / 2); d < (half + 1) * (kDim / 2); ++d) o_acc[r * kO + d] *= alpha;
    }
    __syncwarp();

    // O += P V
#pragma unroll
    for (int n = 0; n < kDim / 16; ++n) {
      wmma::fragment<wmma::accumulator, 16, 16, 16, float> acc;
      wmma::fill_fragment(acc, 0.0f);
#pragma unroll
      for (int k = 0; k < kKeyTile / 16; ++k) {
        wmma::fragment<wmma::matrix_a, 16, 16, 16, T, wmma::row_major> p;
        wmma::fragment<wmma::matrix_b, 16, 16, 16, T, wmma::row_major> v;
        wmma::load_matrix_sync(p, p_tile + k * 16, kProbStride);
        wmma::load_matrix_sync(v, v_tile + k * 16 * kQ + n * 16, kQ);
        wmma::mma_sync(acc, p, v, acc);
      }
      wmma::store_matrix_sync(pv + n * 16, acc, kO, wmma::mem_row_major);
    }
    __syncwarp();
    for (int i = lane; i < 16 * kO; i += 32) o_acc[i] += pv[i];
    __syncwarp();
  }

  // Write the rows this warp owns.
  for (int i = lane; i < 16 * kDim; i += 32) {
    const int r = i / kDim, d = i % kDim;
    const float value = o_acc[r * kO + d];
    const std::int64_t flat = tile.first_flat + first_row + r;
    if (flat >= rows) continue;
    const std::int64_t token = tile.first_token + flat / group;
    const std::int64_t head = static_cast<std::int64_t>(kv_head) * group + flat % group;
    out[(token * heads.q_heads + head) * kDim + d] = from_float<T>(value / row_sum[r]);
  }
}

template <typename T, int kDim>
void launch(const void* qkv, std::int64_t row_width, const Heads& heads, const void* keys, const void* values,
            const StepView& step, const PrefillTile* tiles, std::int64_t count, float scale, std::int64_t window, void* out,
            cudaStream_t stream) {
  const SharedLayout layout{kDim};
  const auto bytes = static_cast<int>(layout.total());
  auto kernel = prefill_attention_kernel<T, kDim>;
  cudaFuncSetAttribute(kernel, cudaFuncAttributeMaxDynamicSharedMemorySize, bytes);
  const dim3 grid(static_cast<unsigned>(count), static_cast<unsigned>(heads.kv_heads));
  kernel<<<grid, kWarps * 32, bytes, stream>>>(static_cast<const T*>(qkv), row_width, heads, static_cast<const T*>(keys),
                                               static_cast<const T*>(values), step, tiles, scale, window,
                                               static_cast<T*>(out));
}

}  // namespace

bool prefill_attention_supports(int head_dim) { return head_dim == 64 || head_dim == 128; }

void prefill_attention(Element e, const void* qkv, std::int64_t row_width, const Heads& heads, const void* keys,
                       const void* values, const StepView& step, const PrefillTile* tiles, std::int64_t count, float scale,
                       std::int64_t sliding_window, void* out, cudaStream_t stream) {
  if (count == 0) return;
  LLMCTL_DISPATCH(e, {
    if (heads.head_dim == 64)
      launch<T, 64>(qkv, row_width, heads, keys, values, step, tiles, count, scale, sliding_window, out, stream);
    else
      launch<T, 128>(qkv, row_width, heads, keys, values, step, tiles, count, scale, sliding_window, out, stream);
  })
  check_launch("prefill_attention");
}

}  // namespace llmctl::kernels
