// Causal attention for prefill chunks on the tensor cores, as FlashAttention-2 does it: scores,
// probabilities and the output stay in registers (mma.sync m16n8k16, bf16/fp16 in, f32 accumulate), an
// online softmax keeps one pass over the keys, and the next key/value tile is gathered from the paged
// cache with cp.async while the current one is used. The query rows of one kv head are the (token, q
// head of its group) pairs of a chunk, flattened: a block takes kPrefillTileRows (128) of them, so one
// gathered tile serves every q head that shares it (GQA). Each of its 4 warps owns 32 rows, two 16-row
// mma tiles that share every key and value operand it loads: twice the independent products per load of
// 16 rows a warp, with the same 8 warps per multiprocessor (two blocks: registers and shared memory both
// allow two). The queries stay in shared memory and are loaded per tile. With head dim 128 the kernel
// takes all 255 registers and spills a few dozen bytes; 32-key tiles, which do not spill, were 5% slower
// on an H200 (1.01 against 0.96 ms for 8,192 tokens of Qwen2.5-7B's shape), so they serve only GPUs
// whose blocks cannot have the 104 KB of shared memory 64-key tiles need (sm_86, sm_89: 99 KB).
// Decode tokens (one query) stay with paged_attention.cu, as do prefill rows on GPUs before sm_80 (no
// m16n8k16 mma; this kernel's sm_75 code traps).
#include "mma.cuh"

#include <cstdint>

namespace llmctl::kernels {
namespace {

constexpr int kQueryTile = kPrefillTileRows;
constexpr int kWarps = 4;
// Shared-memory rows are padded by 16 bytes, so that the 8 rows an ldmatrix reads fall on different banks.
__host__ __device__ constexpr int tile_stride(int dim) { return dim + 8; }
__host__ __device__ constexpr std::size_t shared_bytes(int dim, int key_tile) {
  return static_cast<std::size_t>(kQueryTile + 4 * key_tile) * tile_stride(dim) * 2;  // Q, then K and V twice
}

template <typename T, int kDim, int kKeyTile>
__global__ void __launch_bounds__(kWarps * 32, 2)
    prefill_attention_kernel(const T* qkv, std::int64_t row_width, Heads heads, const T* keys, const T* values,
                             StepView step, const PrefillTile* tiles, float scale, std::int64_t window, T* out) {
#if __CUDA_ARCH__ >= 800
  constexpr int kRowTiles = kQueryTile / kWarps / 16;  // 16-row mma tiles per warp
  extern __shared__ __align__(128) unsigned char shared[];
  constexpr int kStride = tile_stride(kDim);
  T* q_tile = reinterpret_cast<T*>(shared);
  T* kv_tiles = q_tile + kQueryTile * kStride;  // K0, V0, K1, V1
  const PrefillTile tile = tiles[blockIdx.x];
  const int kv_head = blockIdx.y;
  const int group = heads.q_heads / heads.kv_heads;
  const int warp = threadIdx.x / 32, lane = threadIdx.x % 32;
  const int g = lane / 4, t = lane % 4;  // an mma accumulator's rows g and g + 8, columns 2t and 2t + 1
  const std::int64_t kv_width = static_cast<std::int64_t>(heads.kv_heads) * kDim;
  const std::int64_t head_offset = static_cast<std::int64_t>(kv_head) * kDim;
  const std::int32_t* table = step.block_tables + static_cast<std::int64_t>(tile.sequence) * step.max_blocks_per_seq;

  // Flat row f of the chunk is token f / group, q head kv_head * group + f % group. Rows past the chunk
  // are zeros and never written. Positions and key indices fit in 32 bits (max_model_len does), which
  // spares registers the accumulators need.
  const int rows = tile.count * group;
  const int span = static_cast<int>(window);  // 0: no sliding window
  const int chunk_position = step.positions[tile.first_token];
  const int first_position = chunk_position + tile.first_flat / group;
  const int last_position = chunk_position + (min(tile.first_flat + kQueryTile, rows) - 1) / group;
  const int first_key = span > 0 ? max(0, first_position - span + 1) : 0;
  const int key_start = (first_key / kKeyTile) * kKeyTile;
  const int end = last_position + 1;

  const int page_shift = page_shift_of(step);
  load_kv_tile<T, kDim, kKeyTile, kWarps * 32>(keys, values, table, page_shift, kv_width, head_offset, key_start, end,
                                               kv_tiles, kv_tiles + kKeyTile * kStride);
  constexpr int kVectors = kDim / 8;
  for (int i = threadIdx.x; i < kQueryTile * kVectors; i += blockDim.x) {
    const int row = i / kVectors, part = i % kVectors;
    const int flat = tile.first_flat + row;
    int4 value = make_int4(0, 0, 0, 0);
    if (flat < rows) {
      const std::int64_t token = tile.first_token + flat / group;
      const std::int64_t head = static_cast<std::int64_t>(kv_head) * group + flat % group;
      value = reinterpret_cast<const int4*>(qkv + token * row_width + head * kDim)[part];
    }
    reinterpret_cast<int4*>(q_tile + row * kStride)[part] = value;
  }  // read after the first tile's barrier
  const int first_row = warp * 16 * kRowTiles;
  const auto load_q = [q_tile, first_row, lane](int r, int k, std::uint32_t(&a)[4]) {
    ldmatrix_x4(a, q_tile + (first_row + r * 16 + lane % 16) * kStride + k * 16 + lane / 16 * 8);
  };

  // The positions of this thread's rows (g and g + 8 of each of the warp's row tiles).
  int position[kRowTiles][2];
#pragma unroll
  for (int r = 0; r < kRowTiles; ++r)
#pragma unroll
    for (int h = 0; h < 2; ++h)
      position[r][h] = chunk_position + (tile.first_flat + first_row + r * 16 + g + 8 * h) / group;
  OnlineSoftmax<kDim, kRowTiles> softmax;
  const float scale_log2 = scale * kLog2e;

  int buffer = 0;
  for (int key0 = key_start; key0 <= last_position; key0 += kKeyTile, buffer ^= 1) {
    // One barrier a tile: past it, this tile (the only copy in flight) is visible to every warp, and
    // every warp is done with the other buffer, which then starts loading the next tile.
    asm volatile("cp.async.wait_group 0;");
    __syncthreads();
    if (key0 + kKeyTile <= last_position) {
      T* next = kv_tiles + (buffer ^ 1) * 2 * kKeyTile * kStride;
      load_kv_tile<T, kDim, kKeyTile, kWarps * 32>(keys, values, table, page_shift, kv_width, head_offset,
                                                   key0 + kKeyTile, end, next, next + kKeyTile * kStride);
    }
    const T* k_tile = kv_tiles + buffer * 2 * kKeyTile * kStride;
    float s[kRowTiles][kKeyTile / 8][4];
    score_tile<T, kDim / 16>(load_q, k_tile, s);
    // Only tiles across the diagonal, the window or the first visible key hide anything: the others
    // skip the per-score position tests.
    if (key0 + kKeyTile - 1 > first_position || key0 < first_key || span > 0) {
#pragma unroll
      for (int r = 0; r < kRowTiles; ++r)
#pragma unroll
        for (int n = 0; n < kKeyTile / 8; ++n)
#pragma unroll
          for (int e = 0; e < 4; ++e) {
            const int j = key0 + n * 8 + 2 * t + e % 2;
            const int p = position[r][e / 2];
            if (j > p || j < first_key || (span > 0 && j <= p - span)) s[r][n][e] = -INFINITY;
          }
    }
    add_tile(softmax, s, scale_log2, k_tile + kKeyTile * kStride);
  }
  finish(softmax);

  // This thread's two rows of each row tile, two columns per n8 tile.
#pragma unroll
  for (int r = 0; r < kRowTiles; ++r)
#pragma unroll
    for (int h = 0; h < 2; ++h) {
      const int flat = tile.first_flat + first_row + r * 16 + g + 8 * h;
      if (flat >= rows) continue;
      const std::int64_t token = tile.first_token + flat / group;
      const std::int64_t head = static_cast<std::int64_t>(kv_head) * group + flat % group;
      T* row = out + (token * heads.q_heads + head) * kDim;
      const float inverse = 1.0f / softmax.sum[r][h];
#pragma unroll
      for (int n = 0; n < kDim / 8; ++n)
        *reinterpret_cast<std::uint32_t*>(row + n * 8 + 2 * t) =
            pack<T>(softmax.output[r][n][2 * h] * inverse, softmax.output[r][n][2 * h + 1] * inverse);
    }
#else
  __trap();
#endif
}

template <typename T, int kDim, int kKeyTile>
void launch_tiles(const void* qkv, std::int64_t row_width, const Heads& heads, const void* keys, const void* values,
                  const StepView& step, const PrefillTile* tiles, std::int64_t count, float scale, std::int64_t window,
                  void* out, cudaStream_t stream) {
  const auto bytes = static_cast<int>(shared_bytes(kDim, kKeyTile));
  constexpr auto kernel = prefill_attention_kernel<T, kDim, kKeyTile>;
  reserve_shared_memory<kernel>(bytes, "prefill_attention");
  const dim3 grid(static_cast<unsigned>(count), static_cast<unsigned>(heads.kv_heads));
  kernel<<<grid, kWarps * 32, bytes, stream>>>(static_cast<const T*>(qkv), row_width, heads, static_cast<const T*>(keys),
                                               static_cast<const T*>(values), step, tiles, scale, window,
                                               static_cast<T*>(out));
}

template <typename T, int kDim>
void launch(const void* qkv, std::int64_t row_width, const Heads& heads, const void* keys, const void* values,
            const StepView& step, const PrefillTile* tiles, std::int64_t count, float scale, std::int64_t window, void* out,
            cudaStream_t stream) {
  if (shared_bytes(kDim, 64) <= static_cast<std::size_t>(shared_memory_per_block()))
    launch_tiles<T, kDim, 64>(qkv, row_width, heads, keys, values, step, tiles, count, scale, window, out, stream);
  else
    launch_tiles<T, kDim, 32>(qkv, row_width, heads, keys, values, step, tiles, count, scale, window, out, stream);
}

}  // namespace

bool tensor_core_attention_supports(int head_dim) {
  // bf16/fp16 mma.sync m16n8k16 needs sm_80.
  return compute_capability_major() >= 8 && (head_dim == 64 || head_dim == 128);
}

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
