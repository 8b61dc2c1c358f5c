// Causal attention over the paged KV cache for single tokens (decodes, and every token where the
// tensor-core prefill kernel does not apply): one block of four warps per (token, q head); each warp
// walks a quarter of the token's context with an online softmax (lanes split the head dimension), and
// the four partial results are merged at the end.
#include "common.cuh"

#include <cfloat>

namespace llmctl::kernels {
namespace {

constexpr int kWarps = 4;

template <typename T, int kPerLane>
__global__ void __launch_bounds__(kWarps * 32)
    paged_attention_kernel(const T* qkv, std::int64_t row_width, Heads heads, const T* keys, const T* values, StepView step,
                           const std::int32_t* token_rows, float scale, std::int64_t window, T* out) {
  const std::int64_t t = token_rows[blockIdx.x];
  const int h = blockIdx.y;
  const int warp = threadIdx.x / 32;
  const int lane = threadIdx.x % 32;
  const int dim = heads.head_dim;
  const int kv_head = h / (heads.q_heads / heads.kv_heads);
  const std::int64_t kv_width = static_cast<std::int64_t>(heads.kv_heads) * dim;
  const std::int32_t s = step.token_sequence[t];
  const std::int32_t* table = step.block_tables + static_cast<std::int64_t>(s) * step.max_blocks_per_seq;
  const std::int64_t position = step.positions[t];
  const std::int64_t first = window > 0 ? max(static_cast<std::int64_t>(0), position - window + 1) : 0;

  float q[kPerLane];
  float acc[kPerLane];
#pragma unroll
  for (int i = 0; i < kPerLane; ++i) {
    const int d = lane + 32 * i;
    q[i] = d < dim ? to_float(qkv[t * row_width + static_cast<std::int64_t>(h) * dim + d]) * scale : 0.0f;
    acc[i] = 0.0f;
  }
  float m = -FLT_MAX;
  float l = 0.0f;
  const std::int64_t count = position - first + 1;
  const std::int64_t chunk = (count + kWarps - 1) / kWarps;
  const std::int64_t begin = first + warp * chunk;
  const std::int64_t end = min(position + 1, begin + chunk);
  // Keys in groups of kUnroll: their loads are independent, so they are all in flight at once.
  constexpr int kUnroll = 4;
  for (std::int64_t j0 = begin; j0 < end; j0 += kUnroll) {
    float k_values[kUnroll][kPerLane];
    float v_values[kUnroll][kPerLane];
#pragma unroll
    for (int u = 0; u < kUnroll; ++u) {
      const std::int64_t j = min(j0 + u, end - 1);  // a repeated last key is masked below
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
    float dots[kUnroll];
#pragma unroll
    for (int u = 0; u < kUnroll; ++u) {
      dots[u] = 0.0f;
#pragma unroll
      for (int i = 0; i < kPerLane; ++i) dots[u] += q[i] * k_values[u][i];
    }
#pragma unroll
    for (int offset = 16; offset > 0; offset /= 2)
#pragma unroll
      for (int u = 0; u < kUnroll; ++u) dots[u] += __shfl_xor_sync(0xffffffffu, dots[u], offset);
#pragma unroll
    for (int u = 0; u < kUnroll; ++u) {
      if (j0 + u >= end) break;
      const float m_new = fmaxf(m, dots[u]);
      const float correction = __expf(m - m_new);
      const float p = __expf(dots[u] - m_new);
      l = l * correction + p;
#pragma unroll
      for (int i = 0; i < kPerLane; ++i) acc[i] = acc[i] * correction + p * v_values[u][i];
      m = m_new;
    }
  }

  // Merge the warps' partial softmaxes.
  __shared__ float warp_max[kWarps];
  __shared__ float warp_sum[kWarps];
  __shared__ float warp_acc[kWarps][kPerLane * 32];
  if (lane == 0) {
    warp_max[warp] = end > begin ? m : -FLT_MAX;
    warp_sum[warp] = end > begin ? l : 0.0f;
  }
#pragma unroll
  for (int i = 0; i < kPerLane; ++i) warp_acc[warp][lane + 32 * i] = acc[i];
  __syncthreads();
  float total_max = -FLT_MAX;
  for (int w = 0; w < kWarps; ++w) total_max = fmaxf(total_max, warp_max[w]);
  float total = 0.0f;
  for (int w = 0; w < kWarps; ++w) total += warp_sum[w] * __expf(warp_max[w] - total_max);
  T* o = out + t * static_cast<std::int64_t>(heads.q_heads) * dim + static_cast<std::int64_t>(h) * dim;
  for (int d = threadIdx.x; d < dim; d += blockDim.x) {
    float value = 0.0f;
    for (int w = 0; w < kWarps; ++w) value += warp_acc[w][d] * __expf(warp_max[w] - total_max);
    o[d] = from_float<T>(value / total);
  }
}

template <typename T, int kPerLane>
void launch(const void* qkv, std::int64_t row_width, const Heads& heads, const void* keys, const void* values,
            const StepView& step, const std::int32_t* token_rows, std::int64_t count, float scale, std::int64_t window,
            void* out, cudaStream_t stream) {
  const dim3 grid(static_cast<unsigned>(count), static_cast<unsigned>(heads.q_heads));
  paged_attention_kernel<T, kPerLane><<<grid, kWarps * 32, 0, stream>>>(
      static_cast<const T*>(qkv), row_width, heads, static_cast<const T*>(keys), static_cast<const T*>(values), step,
      token_rows, scale, window, static_cast<T*>(out));
}

}  // namespace

void paged_attention(Element e, const void* qkv, std::int64_t row_width, const Heads& heads, const void* keys,
                     const void* values, const StepView& step, const std::int32_t* token_rows, std::int64_t count,
                     float scale, std::int64_t sliding_window, void* out, cudaStream_t stream) {
  if (count == 0) return;
  if (heads.head_dim > 256 || heads.q_heads % heads.kv_heads != 0)
    throw std::runtime_error("paged_attention: head_dim above 256 or q heads not a multiple of kv heads");
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
