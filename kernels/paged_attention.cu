// Causal attention over the paged KV cache for single tokens (decodes, and every token where the
// tensor-core prefill kernel does not apply): one block of four warps per (token, kv head), serving
// up to 8 q heads of that kv head's group, so each key and value is read once for all of them (GQA). Each
// warp walks a quarter of the token's context, four keys' loads in flight at a time, with an online
// softmax per q head (lanes split the head dimension); the four partial results are merged at the end.
#include "common.cuh"

#include <algorithm>
#include <cfloat>

namespace llmctl::kernels {
namespace {

constexpr int kWarps = 4;
constexpr int kMaxGroup = 8;  // the most q heads one block serves; a larger GQA group takes several blocks
constexpr int kUnroll = 4;    // keys loaded together

template <typename T, int kPerLane>
__global__ void __launch_bounds__(kWarps * 32)
    paged_attention_kernel(const T* qkv, std::int64_t row_width, Heads heads, const T* keys, const T* values, StepView step,
                           const std::int32_t* token_rows, int heads_per_block, float scale, std::int64_t window, T* out) {
  const std::int64_t t = token_rows[blockIdx.x];
  const int group_size = heads.q_heads / heads.kv_heads;
  const int blocks_per_group = (group_size + heads_per_block - 1) / heads_per_block;
  const int kv_head = blockIdx.y / blocks_per_group;
  const int first_head = kv_head * group_size + (blockIdx.y % blocks_per_group) * heads_per_block;  // this block's q heads
  const int group = min(heads_per_block, kv_head * group_size + group_size - first_head);
  const int warp = threadIdx.x / 32;
  const int lane = threadIdx.x % 32;
  const int dim = heads.head_dim;
  const std::int64_t kv_width = static_cast<std::int64_t>(heads.kv_heads) * dim;
  const std::int32_t s = step.token_sequence[t];
  const std::int32_t* table = step.block_tables + static_cast<std::int64_t>(s) * step.max_blocks_per_seq;
  const std::int64_t position = step.positions[t];
  const std::int64_t first = window > 0 ? max(static_cast<std::int64_t>(0), position - window + 1) : 0;

  float q[kMaxGroup][kPerLane];
  float acc[kMaxGroup][kPerLane];
  float m[kMaxGroup], l[kMaxGroup];
#pragma unroll
  for (int g = 0; g < kMaxGroup; ++g) {
    const std::int64_t h = first_head + g;
#pragma unroll
    for (int i = 0; i < kPerLane; ++i) {
      const int d = lane + 32 * i;
      q[g][i] = g < group && d < dim ? to_float(qkv[t * row_width + h * dim + d]) * scale : 0.0f;
      acc[g][i] = 0.0f;
    }
    m[g] = -FLT_MAX;
    l[g] = 0.0f;
  }
  const std::int64_t count = position - first + 1;
  const std::int64_t chunk = (count + kWarps - 1) / kWarps;
  const std::int64_t begin = first + warp * chunk;
  const std::int64_t end = min(position + 1, begin + chunk);
  for (std::int64_t j0 = begin; j0 < end; j0 += kUnroll) {
    float k_values[kUnroll][kPerLane];
    float v_values[kUnroll][kPerLane];
#pragma unroll
    for (int u = 0; u < kUnroll; ++u) {
      const std::int64_t j = min(j0 + u, end - 1);  // a repeated last key is skipped below
      const std::int64_t slot = static_cast<std::int64_t>(table[j / step.block_size]) * step.block_size + j % step.block_size;
      const T* k = keys + slot * kv_width + static_cast<std::int64_t>(kv_head) * dim;
      const T* v = values + slot * kv_width + static_cast<std::int64_t>(kv_head) * dim;
#pragma unroll
      for (int i = 0; i < kPerLane; ++i) {
        const int d = lane + 32 * i;
        k_values[u][i] = d < dim ? to_float(k[d]) : 0.0f;
        v_values[u][i] = d < dim ? to_float(v[d]) : 0.0f;
      }
    }
#pragma unroll
    for (int g = 0; g < kMaxGroup; ++g) {
      if (g >= group) break;
      float dots[kUnroll];
#pragma unroll
      for (int u = 0; u < kUnroll; ++u) {
        dots[u] = 0.0f;
#pragma unroll
        for (int i = 0; i < kPerLane; ++i) dots[u] += q[g][i] * k_values[u][i];
      }
#pragma unroll
      for (int offset = 16; offset > 0; offset /= 2)
#pragma unroll
        for (int u = 0; u < kUnroll; ++u) dots[u] += __shfl_xor_sync(0xffffffffu, dots[u], offset);
#pragma unroll
      for (int u = 0; u < kUnroll; ++u) {
        if (j0 + u >= end) break;
        const float m_new = fmaxf(m[g], dots[u]);
        const float correction = __expf(m[g] - m_new);
        const float p = __expf(dots[u] - m_new);
        l[g] = l[g] * correction + p;
#pragma unroll
        for (int i = 0; i < kPerLane; ++i) acc[g][i] = acc[g][i] * correction + p * v_values[u][i];
        m[g] = m_new;
      }
    }
  }

  // Merge the warps' partial softmaxes, one q head at a time.
  __shared__ float warp_max[kWarps];
  __shared__ float warp_sum[kWarps];
  __shared__ float warp_acc[kWarps][kPerLane * 32];
  for (int g = 0; g < group; ++g) {
    __syncthreads();  // the previous head's merge is done
    if (lane == 0) {
      warp_max[warp] = m[g];
      warp_sum[warp] = l[g];
    }
#pragma unroll
    for (int i = 0; i < kPerLane; ++i) warp_acc[warp][lane + 32 * i] = acc[g][i];
    __syncthreads();
    float total_max = -FLT_MAX;
    for (int w = 0; w < kWarps; ++w) total_max = fmaxf(total_max, warp_max[w]);
    float total = 0.0f;
    for (int w = 0; w < kWarps; ++w) total += warp_sum[w] * __expf(warp_max[w] - total_max);
    const std::int64_t h = first_head + g;
    T* o = out + (t * heads.q_heads + h) * dim;
    for (int d = threadIdx.x; d < dim; d += blockDim.x) {
      float value = 0.0f;
      for (int w = 0; w < kWarps; ++w) value += warp_acc[w][d] * __expf(warp_max[w] - total_max);
      o[d] = from_float<T>(value / total);
    }
  }
}

template <typename T, int kPerLane>
void launch(const void* qkv, std::int64_t row_width, const Heads& heads, const void* keys, const void* values,
            const StepView& step, const std::int32_t* token_rows, std::int64_t count, float scale, std::int64_t window,
            void* out, cudaStream_t stream) {
  // Sharing keys between the q heads of a group saves reads but leaves fewer blocks: with few tokens a
  // block per q head keeps the GPU busy (a single stream would otherwise run on 4 of 132 multiprocessors).
  const int group_size = heads.q_heads / heads.kv_heads;
  const int heads_per_block = count * heads.kv_heads >= 256 ? std::min(group_size, kMaxGroup) : 1;
  const int blocks_per_group = (group_size + heads_per_block - 1) / heads_per_block;
  const dim3 grid(static_cast<unsigned>(count), static_cast<unsigned>(heads.kv_heads * blocks_per_group));
  paged_attention_kernel<T, kPerLane><<<grid, kWarps * 32, 0, stream>>>(
      static_cast<const T*>(qkv), row_width, heads, static_cast<const T*>(keys), static_cast<const T*>(values), step,
      token_rows, heads_per_block, scale, window, static_cast<T*>(out));
}

}  // namespace

void paged_attention(Element e, const void* qkv, std::int64_t row_width, const Heads& heads, const void* keys,
                     const void* values, const StepView& step, const std::int32_t* token_rows, std::int64_t count,
                     float scale, std::int64_t sliding_window, void* out, cudaStream_t stream) {
  if (count == 0) return;
  if (heads.head_dim > 256 || heads.q_heads % heads.kv_heads != 0)
    throw std::runtime_error("paged_attention: head_dim above 256, or q heads not a multiple of kv heads");
  LLMCTL_DISPATCH(e, {
    if (heads.head_dim <= 32)
      launch<T, 1>(qkv, row_width, heads, keys, values, step, token_rows, count, scale, sliding_window, out, stream);
    else if (heads.head_dim <= 64)
      launch<T, 2>(qkv, row_width, heads, keys, values, step, token_rows, count, scale, sliding_window, out, stream);
    else if (heads.head_dim <= 128)
      launch<T, 4>(qkv, row_width, heads, keys, values, step, token_rows, count, scale, sliding_window, out, stream);
    else
      launch<T, 8>(qkv, row_width, heads, keys, values, step, token_rows, count, scale, sliding_window, out, stream);
  })
  check_launch("paged_attention");
}

}  // namespace llmctl::kernels
