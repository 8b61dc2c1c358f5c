// Causal attention over the paged KV cache for single tokens (decodes, and every token where the
// tensor-core prefill kernel does not apply). A block serves one token, one kv head and up to 8 of its
// q heads (GQA: each key and value is read once for all of them), over one split of the token's context
// (flash-decoding: few tokens with long contexts still fill the GPU). Head dims 64 and 128 run on the
// tensor cores where the GPU has them (paged_attention_mma_kernel, one warp per block); others on the
// scalar kernel below, four warps per block. For decode tokens both kernels also do rotary_write_kv's work:
// they rotate the q heads as they load them, and the block whose keys end at the token's own writes
// that key and value into its tile and the cache (place_new_key), which saves a kernel and its launch.
//
// Scalar kernel, per tile of 64 keys: the block copies keys and values to shared memory with 16-byte loads; each
// thread scores one key against one q head at a time (no cross-lane reductions); a warp per head runs
// the online softmax over the tile; each thread accumulates 8 dims of one head's output. A token whose
// context was split writes partial results (unnormalised output, max, sum), merged by a second kernel.
#include "mma.cuh"

#include <algorithm>
#include <cfloat>
#include <type_traits>

namespace llmctl::kernels {
namespace {

constexpr int kThreads = 128;
constexpr int kMaxGroup = 8;   // the most q heads one block serves; a larger GQA group takes several blocks
constexpr int kMaxSplits = 64;
constexpr int kPad = 8;        // elements after each shared-memory key row: 16-byte reads of 8 rows hit distinct banks

__host__ __device__ inline int ceil_div(std::int64_t a, std::int64_t b) { return static_cast<int>((a + b - 1) / b); }

// Keys per tile of the scalar kernel: 64, or 32 for head dims above 128 (the tiles must fit in 48 KB of
// shared memory); of the mma kernel, 16.
__host__ __device__ constexpr int tile_keys(int max_dim) { return max_dim > 128 ? 32 : 64; }
constexpr int kMmaTileKeys = 16;

// Keys per split of a context of `count` keys given `splits` (at least one tile each), and so how many
// splits the context actually uses: the attention and the merge kernel compute it alike.
__device__ inline int keys_per_split(std::int64_t count, int splits, int tile) {
  const int used = min(splits, ceil_div(count, tile));
  return ceil_div(ceil_div(count, used), tile) * tile;
}

// The keys [first, position] token t attends to.
__device__ inline void context_of(const StepView& step, std::int64_t t, std::int64_t window, std::int64_t& first,
                                  std::int64_t& position) {
  position = step.positions[t];
  first = window > 0 ? max(static_cast<std::int64_t>(0), position - window + 1) : 0;
}

// What one block of either kernel attends: token `token` (row blockIdx.x of token_rows) at `position`,
// kv head `kv_head` and `group` of its q heads from `first_head` (blockIdx.y), and the keys [begin, end)
// of split blockIdx.z of the token's context, which uses `used` splits of whole `tile`-key tiles; its
// sequence's block `table`. False for a split past those: the block has nothing to do.
struct DecodeWork {
  std::int64_t token, position;
  int kv_head, first_head, group, used;
  std::int64_t begin, end;
  const std::int32_t* table;
};
__device__ inline bool decode_work(const Heads& heads, const StepView& step, const std::int32_t* token_rows,
                                   int heads_per_block, int splits, int tile, std::int64_t window, DecodeWork& work) {
  const std::int64_t t = token_rows[blockIdx.x];
  const int group_size = heads.q_heads / heads.kv_heads;
  const int blocks_per_group = (group_size + heads_per_block - 1) / heads_per_block;
  const int kv_head = blockIdx.y / blocks_per_group;
  const int first_head = kv_head * group_size + (blockIdx.y % blocks_per_group) * heads_per_block;
  std::int64_t first, position;
  context_of(step, t, window, first, position);
  const std::int64_t count = position - first + 1;
  const int per_split = keys_per_split(count, splits, tile);
  const int used = ceil_div(count, per_split);
  const int split = blockIdx.z;
  if (split >= used) return false;
  const std::int64_t begin = first + static_cast<std::int64_t>(split) * per_split;
  work = {t,
          position,
          kv_head,
          first_head,
          min(heads_per_block, kv_head * group_size + group_size - first_head),
          used,
          begin,
          min(position + 1, begin + per_split),
          step.block_tables + static_cast<std::int64_t>(step.token_sequence[t]) * step.max_blocks_per_seq};
  return true;
}

// Where a kernel fuses the rotary embedding (paged_attention with cos_sin), the block whose tile holds the
// token's own key writes it: the token's k head `kv_head` rotated, and its v head, go into the tile's rows
// k_row and v_row in place of what the cache held there, and into the token's cache slot (not for -1:
// padding). The block's threads share the work.
template <typename T>
__device__ void place_new_key(const T* qkv_row, const Heads& heads, int kv_head, const float* angles, std::int64_t slot,
                              T* keys, T* values, T* k_row, T* v_row) {
  const int dim = heads.head_dim;
  const T* k = qkv_row + static_cast<std::int64_t>(heads.q_heads + kv_head) * dim;
  const T* v = k + static_cast<std::int64_t>(heads.kv_heads) * dim;
  const std::int64_t offset = (slot * heads.kv_heads + kv_head) * dim;
  for (int d = threadIdx.x; d < dim; d += blockDim.x) {
    const T key = rotated(k, angles, d, dim), value = v[d];
    k_row[d] = key;
    v_row[d] = value;
    if (slot >= 0) {
      keys[offset + d] = key;
      values[offset + d] = value;
    }
  }
}

template <typename T, int kMaxDim>
__global__ void __launch_bounds__(kThreads)
    paged_attention_kernel(const T* qkv, std::int64_t row_width, Heads heads, T* keys, T* values, StepView step,
                           const float* cos_sin, const std::int32_t* token_rows, int heads_per_block, int splits,
                           float scale, std::int64_t window, T* out, float* partials) {
  constexpr int kKeys = tile_keys(kMaxDim);
  constexpr int kChunks = kMaxDim / 8;                                       // 16-byte chunks of a row, at most
  constexpr int kPvSlots = (kMaxGroup * kChunks + kThreads - 1) / kThreads;  // heads each thread accumulates
  constexpr int kScoreStride = kThreads / kKeys;                              // q heads scored at once
  constexpr int kRow = kMaxDim + kPad;
  __shared__ __align__(16) T k_tile[kKeys * kRow];
  __shared__ __align__(16) T v_tile[kKeys * kRow];
  __shared__ float q_s[kMaxGroup * kMaxDim];
  __shared__ float scores[kMaxGroup * kKeys];
  __shared__ float m_s[kMaxGroup], l_s[kMaxGroup], correction[kMaxGroup];

  let_next_kernel_start();  // the o projection may start streaming its weights
  wait_for_previous_kernel();
  DecodeWork work;
  if (!decode_work(heads, step, token_rows, heads_per_block, splits, kKeys, window, work)) return;
  const auto [t, position, kv_head, first_head, group, used, begin, end, table] = work;
  const int i = blockIdx.x, split = blockIdx.z;
  const int dim = heads.head_dim;
  const int chunks = dim / 8;
  const std::int64_t kv_width = static_cast<std::int64_t>(heads.kv_heads) * dim;
  const T* qkv_row = qkv + t * row_width;
  const float* angles = cos_sin ? cos_sin + position * dim : nullptr;

  for (int x = threadIdx.x; x < kMaxGroup * dim; x += kThreads) {  // heads past the group: zeros, scored unused
    const int g = x / dim, d = x % dim;
    const T* head = qkv_row + static_cast<std::int64_t>(first_head + g) * dim;
    q_s[g * kMaxDim + d] = g < group ? to_float(angles ? rotated(head, angles, d, dim) : head[d]) * scale : 0.0f;
  }
  if (threadIdx.x < kMaxGroup) {
    m_s[threadIdx.x] = -FLT_MAX;
    l_s[threadIdx.x] = 0.0f;
  }
  float acc[kPvSlots][8];
#pragma unroll
  for (int s = 0; s < kPvSlots; ++s)
#pragma unroll
    for (int e = 0; e < 8; ++e) acc[s][e] = 0.0f;

  const int warp = threadIdx.x / 32, lane = threadIdx.x % 32;
  for (std::int64_t key0 = begin; key0 < end; key0 += kKeys) {
    __syncthreads();  // the previous tile is no longer read
    gather_kv_tile(keys, values, table, page_shift_of(step), kv_width, static_cast<std::int64_t>(kv_head) * dim, dim, key0,
                   kKeys, end, kRow, k_tile, v_tile);
    __syncthreads();
    if (angles && position < key0 + kKeys) {  // the tile ends with the token's own key
      const std::int64_t row = position - key0;
      place_new_key(qkv_row, heads, kv_head, angles, step.slot_mapping[t], keys, values, k_tile + row * kRow,
                    v_tile + row * kRow);
      __syncthreads();
    }

    // Scores: thread -> one key (threadIdx % kKeys) against q heads threadIdx / kKeys + k * kScoreStride,
    // each 16 bytes of the key read once for all of them.
    {
      const int key = threadIdx.x % kKeys;
      const int g0 = threadIdx.x / kKeys;
      float dots[kMaxGroup / kScoreStride] = {};
#pragma unroll
      for (int c = 0; c < kChunks; ++c) {
        if (c >= chunks) break;
        const int4 packed = *reinterpret_cast<const int4*>(k_tile + key * kRow + c * 8);
        const T* k = reinterpret_cast<const T*>(&packed);
        float kf[8];
#pragma unroll
        for (int e = 0; e < 8; ++e) kf[e] = to_float(k[e]);
#pragma unroll
        for (int h = 0; h < kMaxGroup / kScoreStride; ++h) {
          const float* q = q_s + (g0 + h * kScoreStride) * kMaxDim + c * 8;
          const float4 q0 = *reinterpret_cast<const float4*>(q);
          const float4 q1 = *reinterpret_cast<const float4*>(q + 4);
          dots[h] += q0.x * kf[0] + q0.y * kf[1] + q0.z * kf[2] + q0.w * kf[3] + q1.x * kf[4] + q1.y * kf[5] +
                     q1.z * kf[6] + q1.w * kf[7];
        }
      }
      const bool valid = key0 + key < end;
#pragma unroll
      for (int h = 0; h < kMaxGroup / kScoreStride; ++h)
        if (g0 + h * kScoreStride < group) scores[(g0 + h * kScoreStride) * kKeys + key] = valid ? dots[h] : -FLT_MAX;
    }
    __syncthreads();

    // Online softmax: a warp per q head over the tile's scores, kKeys / 32 per lane.
    for (int g = warp; g < group; g += kThreads / 32) {
      float p[kKeys / 32];
      float tile_max = -FLT_MAX;
#pragma unroll
      for (int u = 0; u < kKeys / 32; ++u) tile_max = fmaxf(tile_max, p[u] = scores[g * kKeys + lane + 32 * u]);
      for (int offset = 16; offset > 0; offset /= 2) tile_max = fmaxf(tile_max, __shfl_xor_sync(0xffffffffu, tile_max, offset));
      const float m_old = m_s[g];
      const float m_new = fmaxf(m_old, tile_max);
      float tile_sum = 0.0f;
#pragma unroll
      for (int u = 0; u < kKeys / 32; ++u) {
        p[u] = key0 + lane + 32 * u < end ? __expf(p[u] - m_new) : 0.0f;
        tile_sum += p[u];
        scores[g * kKeys + lane + 32 * u] = p[u];
      }
      tile_sum = warp_sum(tile_sum);
      if (lane == 0) {
        const float c = __expf(m_old - m_new);
        correction[g] = c;
        l_s[g] = l_s[g] * c + tile_sum;
        m_s[g] = m_new;
      }
    }
    __syncthreads();

    // Values: thread -> 8 dims (chunk threadIdx % chunks) of heads threadIdx / chunks + slot * (128 / chunks).
#pragma unroll
    for (int s = 0; s < kPvSlots; ++s) {
      const int g = threadIdx.x / chunks + s * (kThreads / chunks);
      const int c = threadIdx.x % chunks;
      if (g >= group || threadIdx.x / chunks >= kThreads / chunks) continue;
      const float cg = correction[g];
#pragma unroll
      for (int e = 0; e < 8; ++e) acc[s][e] *= cg;
      for (int key = 0; key < kKeys; ++key) {
        const float p = scores[g * kKeys + key];
        const int4 packed = *reinterpret_cast<const int4*>(v_tile + key * kRow + c * 8);
        const T* v = reinterpret_cast<const T*>(&packed);
#pragma unroll
        for (int e = 0; e < 8; ++e) acc[s][e] += p * to_float(v[e]);
      }
    }
  }
  __syncthreads();  // the last tile's max and sum are written

#pragma unroll
  for (int s = 0; s < kPvSlots; ++s) {
    const int g = threadIdx.x / chunks + s * (kThreads / chunks);
    const int c = threadIdx.x % chunks;
    if (g >= group || threadIdx.x / chunks >= kThreads / chunks) continue;
    const std::int64_t h = first_head + g;
    if (used == 1) {
      T* o = out + (t * heads.q_heads + h) * dim + c * 8;
      const float inverse = 1.0f / l_s[g];
#pragma unroll
      for (int e = 0; e < 8; ++e) o[e] = from_float<T>(acc[s][e] * inverse);
    } else {
      float* p = partials + ((static_cast<std::int64_t>(i) * heads.q_heads + h) * splits + split) * (dim + 2);
#pragma unroll
      for (int e = 0; e < 8; ++e) p[c * 8 + e] = acc[s][e];
      if (c == 0) {
        p[dim] = m_s[g];
        p[dim + 1] = l_s[g];
      }
    }
  }
}

// The same attention on the tensor cores, for head dims 64 and 128 on sm_80 and later: one warp per block,
// the block's q heads (at most 8) the first rows of 16-row mma products, the rest zeros. Scores,
// probabilities and output stay in registers, so the only shared-memory traffic is the tile itself, which
// cp.async gathers (the next one while this one is used). The grid, splits and partial results are the
// scalar kernel's. The first tile (keys of earlier steps, final) loads while the kernel before, the qkv
// projection, finishes.
template <typename T, int kDim>
__global__ void __launch_bounds__(32, 12)
    paged_attention_mma_kernel(const T* qkv, std::int64_t row_width, Heads heads, T* keys, T* values, StepView step,
                               const float* cos_sin, const std::int32_t* token_rows, int heads_per_block, int splits,
                               float scale, std::int64_t window, T* out, float* partials) {
#if __CUDA_ARCH__ >= 800
  // Keys per tile: 16 keeps the block's shared memory at 17 KB, so 12 blocks fit on a multiprocessor;
  // splits are whole tiles, so a short context still spreads over many warps.
  constexpr int kKeys = kMmaTileKeys;
  constexpr int kStride = kDim + 8;
  constexpr int kDimTiles = kDim / 8;
  static_assert(kKeys >= 16, "the q heads pass through the second value tile");
  __shared__ __align__(128) T kv_tiles[4 * kKeys * kStride];  // K0, V0, K1, V1

  let_next_kernel_start();
  DecodeWork work;
  if (!decode_work(heads, step, token_rows, heads_per_block, splits, kKeys, window, work)) return;
  const auto [t, position, kv_head, first_head, group, used, begin, end, table] = work;
  const int i = blockIdx.x, split = blockIdx.z;
  const std::int64_t kv_width = static_cast<std::int64_t>(heads.kv_heads) * kDim;
  const std::int64_t head_offset = static_cast<std::int64_t>(kv_head) * kDim;
  const int page_shift = page_shift_of(step);

  load_kv_tile<T, kDim, kKeys, 32>(keys, values, table, page_shift, kv_width, head_offset, begin, end, kv_tiles,
                                   kv_tiles + kKeys * kStride);
  wait_for_previous_kernel();
  const T* qkv_row = qkv + t * row_width;
  const float* angles = cos_sin ? cos_sin + position * kDim : nullptr;
  // The q heads go to registers through V1, which the second tile overwrites only after them.
  T* q_tile = kv_tiles + 3 * kKeys * kStride;
  const int lane = threadIdx.x;
  const int g = lane / 4, q = lane % 4;  // an accumulator's rows g and g + 8, columns 2q and 2q + 1
  for (int x = lane; x < 16 * kDimTiles; x += 32) {
    const int row = x / kDimTiles, part = x % kDimTiles;
    int4 value = make_int4(0, 0, 0, 0);
    if (row < group) {
      const T* head = qkv_row + static_cast<std::int64_t>(first_head + row) * kDim;
      value = angles ? rotated8(head, angles, part * 8, kDim) : reinterpret_cast<const int4*>(head)[part];
    }
    reinterpret_cast<int4*>(q_tile + row * kStride)[part] = value;
  }
  __syncwarp();
  std::uint32_t a_q[kDim / 16][4];
#pragma unroll
  for (int k = 0; k < kDim / 16; ++k) ldmatrix_x4(a_q[k], q_tile + (lane % 16) * kStride + k * 16 + lane / 16 * 8);
  __syncwarp();

  OnlineSoftmax<kDim> softmax;
  const float scale_log2 = scale * kLog2e;
  int buffer = 0;
  for (std::int64_t key0 = begin; key0 < end; key0 += kKeys, buffer ^= 1) {
    if (key0 + kKeys < end) {
      T* next = kv_tiles + (buffer ^ 1) * 2 * kKeys * kStride;
      load_kv_tile<T, kDim, kKeys, 32>(keys, values, table, page_shift, kv_width, head_offset, key0 + kKeys, end, next,
                                       next + kKeys * kStride);
      asm volatile("cp.async.wait_group 1;");
    } else {
      asm volatile("cp.async.wait_group 0;");
    }
    __syncwarp();
    T* k_tile = kv_tiles + buffer * 2 * kKeys * kStride;
    if (angles && position < key0 + kKeys) {  // the tile ends with the token's own key
      const std::int64_t row = position - key0;
      place_new_key(qkv_row, heads, kv_head, angles, step.slot_mapping[t], keys, values, k_tile + row * kStride,
                    k_tile + (kKeys + row) * kStride);
      __syncwarp();
    }
    float s[1][kKeys / 8][4];
    score_tile<T, kDim / 16>(
        [&](int, int k, std::uint32_t(&a)[4]) {
#pragma unroll
          for (int i = 0; i < 4; ++i) a[i] = a_q[k][i];
        },
        k_tile, s);
#pragma unroll
    for (int n = 0; n < kKeys / 8; ++n)
#pragma unroll
      for (int e = 0; e < 4; ++e) s[0][n][e] = key0 + n * 8 + 2 * q + e % 2 < end ? s[0][n][e] : -INFINITY;
    add_tile(softmax, s, scale_log2, k_tile + kKeys * kStride);
    __syncwarp();  // this buffer is reloaded two tiles on
  }
  finish(softmax);

#pragma unroll
  for (int h = 0; h < 2; ++h) {
    const int row = g + 8 * h;
    if (row >= group) continue;
    const std::int64_t head = first_head + row;
    if (used == 1) {
      T* o = out + (t * heads.q_heads + head) * kDim;
      const float inverse = 1.0f / softmax.sum[0][h];
#pragma unroll
      for (int n = 0; n < kDimTiles; ++n)
        *reinterpret_cast<std::uint32_t*>(o + n * 8 + 2 * q) =
            pack<T>(softmax.output[0][n][2 * h] * inverse, softmax.output[0][n][2 * h + 1] * inverse);
    } else {  // natural-log max, as the merge kernel reads it
      float* p = partials + ((static_cast<std::int64_t>(i) * heads.q_heads + head) * splits + split) * (kDim + 2);
#pragma unroll
      for (int n = 0; n < kDimTiles; ++n) {
        p[n * 8 + 2 * q] = softmax.output[0][n][2 * h];
        p[n * 8 + 2 * q + 1] = softmax.output[0][n][2 * h + 1];
      }
      if (q == 0) {
        p[kDim] = softmax.max[0][h] / kLog2e;
        p[kDim + 1] = softmax.sum[0][h];
      }
    }
  }
#else
  __trap();
#endif
}

// Merges the splits of each (token, q head) whose context was split: softmax-weighted by each split's max.
// The kernel's time is its latency, so every load is issued before any is used (one round trip to L2):
// thread s reads split s's max and sum (kMaxSplits <= kThreads), and each thread its output elements
// d = threadIdx.x + r * kThreads in every split.
template <typename T, int kMaxDim>
__global__ void __launch_bounds__(kThreads) merge_splits_kernel(Heads heads, StepView step, const std::int32_t* token_rows,
                                                                int splits, int tile, std::int64_t window,
                                                                const float* partials, T* out) {
  static_assert(kMaxSplits <= kThreads);
  constexpr int kRounds = (kMaxDim + kThreads - 1) / kThreads;
  __shared__ float weights[kMaxSplits];
  let_next_kernel_start();
  wait_for_previous_kernel();  // in every block: the next kernel waits for this one alone
  const int i = blockIdx.x;
  const int h = blockIdx.y;
  const std::int64_t t = token_rows[i];
  std::int64_t first, position;
  context_of(step, t, window, first, position);
  const std::int64_t count = position - first + 1;
  const int used = ceil_div(count, keys_per_split(count, splits, tile));
  if (used == 1) return;  // written by the attention kernel
  const int dim = heads.head_dim;
  const float* p = partials + (static_cast<std::int64_t>(i) * heads.q_heads + h) * splits * (dim + 2);
  const int s = threadIdx.x;
  const float split_max = s < used ? p[s * (dim + 2) + dim] : -FLT_MAX;
  const float split_sum = s < used ? p[s * (dim + 2) + dim + 1] : 0.0f;
  float values[kRounds][kMaxSplits];
#pragma unroll
  for (int r = 0; r < kRounds; ++r)
#pragma unroll
    for (int k = 0; k < kMaxSplits; ++k) {
      const int d = threadIdx.x + r * kThreads;
      values[r][k] = k < used && d < dim ? p[k * (dim + 2) + d] : 0.0f;
    }
  const float total_max = block_max(split_max);
  const float weight = s < used ? __expf(split_max - total_max) : 0.0f;
  const float total = block_sum(split_sum * weight);
  if (s < kMaxSplits) weights[s] = weight / total;
  __syncthreads();
#pragma unroll
  for (int r = 0; r < kRounds; ++r) {
    const int d = threadIdx.x + r * kThreads;
    float value = 0.0f;
#pragma unroll
    for (int k = 0; k < kMaxSplits; ++k) value += values[r][k] * weights[k];
    if (d < dim) out[(t * heads.q_heads + h) * dim + d] = from_float<T>(value);
  }
}

// How many blocks of kKernel (no dynamic shared memory) run at once on the GPU, read once per kernel.
template <auto kKernel>
std::int64_t resident_blocks(int threads) {
  static const std::int64_t count = [threads] {
    int per_multiprocessor = 0;
    cudaOccupancyMaxActiveBlocksPerMultiprocessor(&per_multiprocessor, kKernel, threads, 0);
    return static_cast<std::int64_t>(std::max(per_multiprocessor, 1)) * multiprocessor_count();
  }();
  return count;
}

template <typename T, int kMaxDim>
void launch(const void* qkv, std::int64_t row_width, const Heads& heads, void* keys, void* values, const StepView& step,
            const float* cos_sin, const std::int32_t* token_rows, std::int64_t count, float scale, std::int64_t window,
            void* out, float* workspace, std::size_t workspace_bytes, cudaStream_t stream) {
  const int group_size = heads.q_heads / heads.kv_heads;
  const int heads_per_block = std::min(group_size, kMaxGroup);
  const int blocks_per_group = (group_size + heads_per_block - 1) / heads_per_block;
  // The mma kernel takes head dims 64 and 128 exactly (its instances: nvcc instantiates every kernel a
  // template names, even in a branch never taken), on the GPUs tensor_core_attention_supports() accepts.
  constexpr int kMmaDim = kMaxDim == 128 ? 128 : 64;
  const bool on_tensor_cores =
      heads.head_dim == kMmaDim && kMaxDim == kMmaDim && tensor_core_attention_supports(kMmaDim);
  // Split contexts into as many parts as fit in one wave of blocks, when there are too few tokens to
  // fill the GPU (one or a few sequences). Not beyond: a second wave, the partial results and the
  // merge cost more than they give (256 tokens of 768-key contexts, 7B shape, H200: 20.8 requests/s
  // unsplit at 0.65 of a wave, 19.5 in 2 splits, 19.8 in 3). As far as the workspace allows. The count
  // depends on the shapes alone, so a CUDA graph captured for them stays valid.
  const std::int64_t blocks = count * heads.kv_heads * blocks_per_group;
  const std::int64_t slots = on_tensor_cores ? resident_blocks<paged_attention_mma_kernel<T, kMmaDim>>(32)
                                             : resident_blocks<paged_attention_kernel<T, kMaxDim>>(kThreads);
  const std::size_t bytes_per_split = static_cast<std::size_t>(count) * heads.q_heads * (heads.head_dim + 2) * sizeof(float);
  const int max_splits = std::max(1, std::min(kMaxSplits, static_cast<int>(workspace_bytes / bytes_per_split)));
  const int splits = static_cast<int>(std::clamp<std::int64_t>(slots / blocks, 1, max_splits));
  const dim3 grid(static_cast<unsigned>(count), static_cast<unsigned>(heads.kv_heads * blocks_per_group),
                  static_cast<unsigned>(splits));
  // Overlapped launches: each kernel starts while the one before finishes (common.cuh).
  const auto typed = [](auto* p) { return static_cast<T*>(p); };
  if (on_tensor_cores)
    launch_overlapped(paged_attention_mma_kernel<T, kMmaDim>, grid, dim3(32), 0, stream, static_cast<const T*>(qkv),
                      row_width, heads, typed(keys), typed(values), step, cos_sin, token_rows, heads_per_block, splits,
                      scale, window, typed(out), workspace);
  else
    launch_overlapped(paged_attention_kernel<T, kMaxDim>, grid, dim3(kThreads), 0, stream, static_cast<const T*>(qkv),
                      row_width, heads, typed(keys), typed(values), step, cos_sin, token_rows, heads_per_block, splits,
                      scale, window, typed(out), workspace);
  if (splits > 1)  // split sizes are whole tiles of the kernel that ran
    launch_overlapped(merge_splits_kernel<T, kMaxDim>,
                      dim3(static_cast<unsigned>(count), static_cast<unsigned>(heads.q_heads)), dim3(kThreads), 0,
                      stream, heads, step, token_rows, splits, on_tensor_cores ? kMmaTileKeys : tile_keys(kMaxDim),
                      window, static_cast<const float*>(workspace), typed(out));
}

}  // namespace

void paged_attention(Element e, const void* qkv, std::int64_t row_width, const Heads& heads, void* keys, void* values,
                     const StepView& step, const float* cos_sin, const std::int32_t* token_rows, std::int64_t count,
                     float scale, std::int64_t sliding_window, void* out, float* workspace, std::size_t workspace_bytes,
                     cudaStream_t stream) {
  if (count == 0) return;
  if (heads.head_dim > 256 || heads.head_dim % 8 != 0 || heads.q_heads % heads.kv_heads != 0)
    throw std::runtime_error("paged_attention: head_dim must be a multiple of 8 up to 256, and q heads a multiple of kv heads");
  LLMCTL_DISPATCH(e, {
    const auto launch_for = [&](auto max_dim) {
      launch<T, decltype(max_dim)::value>(qkv, row_width, heads, keys, values, step, cos_sin, token_rows, count, scale,
                                          sliding_window, out, workspace, workspace_bytes, stream);
    };
    if (heads.head_dim <= 32)
      launch_for(std::integral_constant<int, 32>{});
    else if (heads.head_dim <= 64)
      launch_for(std::integral_constant<int, 64>{});
    else if (heads.head_dim <= 128)
      launch_for(std::integral_constant<int, 128>{});
    else
      launch_for(std::integral_constant<int, 256>{});
  })
  check_launch("paged_attention");
}

}  // namespace llmctl::kernels
