// Row-wise and element-wise kernels of the decoder: embedding, RMSNorm (plain, fused with the residual
// add, and per head), RoPE with the KV cache write, SiLU-mul and row gathers. Each reads and writes its
// tensors once; arithmetic is in f32.
#include "common.cuh"

#include <algorithm>

namespace llmctl::kernels {
namespace {

constexpr int kRowThreads = 256;

// 16-byte copies: widths are multiples of 8 elements (row_threads).
template <typename T>
__global__ void embed_kernel(const T* table, std::int64_t width, const std::int32_t* ids, const SampleResult* drawn,
                             T* out) {
  const std::int64_t t = blockIdx.x, vectors = width / 8;
  const std::int32_t id = ids[t] >= 0 ? ids[t] : drawn[-ids[t] - 1].token;
  const auto* row = reinterpret_cast<const int4*>(table + static_cast<std::int64_t>(id) * width);
  auto* to = reinterpret_cast<int4*>(out + t * width);
  for (std::int64_t v = threadIdx.x; v < vectors; v += blockDim.x) to[v] = row[v];
}

// Row kernels hold a row in registers as 16-byte vectors of 8 elements, at most kRowVectors per thread;
// one block per row, with as few threads as cover it (rows are short: one pass of loads, one of stores).
constexpr int kRowVectors = 4;

inline int row_threads(std::int64_t cols) {
  if (cols % 8 != 0 || cols > 8 * kRowVectors * 1024)
    throw std::runtime_error("row kernels take widths that are multiples of 8, up to 32768");
  const std::int64_t threads = (cols / 8 + kRowVectors - 1) / kRowVectors;
  return static_cast<int>(std::max<std::int64_t>(32, (threads + 31) / 32 * 32));
}

template <typename T>
__device__ void load8(const T* p, float (&v)[8]) {
  const int4 packed = *reinterpret_cast<const int4*>(p);
  const T* e = reinterpret_cast<const T*>(&packed);
#pragma unroll
  for (int i = 0; i < 8; ++i) v[i] = to_float(e[i]);
}

template <typename T>
__device__ void store8(T* p, const float (&v)[8]) {
  int4 packed;
  T* e = reinterpret_cast<T*>(&packed);
#pragma unroll
  for (int i = 0; i < 8; ++i) e[i] = from_float<T>(v[i]);
  *reinterpret_cast<int4*>(p) = packed;
}

// The row vectors threadIdx.x + k * blockDim.x of `row` (the norm weight, or an activation row).
template <typename T>
__device__ void load_row(const T* row, std::int64_t cols, float (&values)[kRowVectors][8]) {
#pragma unroll
  for (int k = 0; k < kRowVectors; ++k)
    if (threadIdx.x + k * blockDim.x < cols / 8) load8(row + (threadIdx.x + k * blockDim.x) * 8, values[k]);
}

// out = weight * (x / rms(x)) for the row held in `values` (vectors threadIdx.x + k * blockDim.x), as
// vLLM's fused kernel: the product in f32, rounded once. The weight was loaded with the row, so that its
// latency is not added to the reduction's.
template <typename T>
__device__ void normalize_row(float (&values)[kRowVectors][8], const float (&weight)[kRowVectors][8], float eps,
                              std::int64_t cols, T* out) {
  const std::int64_t vectors = cols / 8;
  float sum = 0.0f;
#pragma unroll
  for (int k = 0; k < kRowVectors; ++k)
    if (threadIdx.x + k * blockDim.x < vectors)
#pragma unroll
      for (int i = 0; i < 8; ++i) sum += values[k][i] * values[k][i];
  const float scale = rsqrtf(block_sum(sum) / static_cast<float>(cols) + eps);
#pragma unroll
  for (int k = 0; k < kRowVectors; ++k) {
    const std::int64_t v = threadIdx.x + k * blockDim.x;
    if (v >= vectors) continue;
#pragma unroll
    for (int i = 0; i < 8; ++i) values[k][i] = values[k][i] * scale * weight[k][i];
    store8(out + v * 8, values[k]);
  }
}

template <typename T>
__global__ void rms_norm_kernel(const T* x, const T* weight, float eps, std::int64_t cols, T* out) {
  let_next_kernel_start();  // a skinny GEMM may start streaming its weights
  const std::int64_t r = blockIdx.x;
  float values[kRowVectors][8], w[kRowVectors][8];
  load_row(weight, cols, w);
  load_row(x + r * cols, cols, values);
  normalize_row(values, w, eps, cols, out + r * cols);
}

// The sum is rounded to T before it is normalised, as transformers adds the residual in the model's type.
template <typename T>
__global__ void add_rms_norm_kernel(T* residual, const T* x, const T* weight, float eps, std::int64_t cols, T* out) {
  let_next_kernel_start();
  const std::int64_t r = blockIdx.x;
  float values[kRowVectors][8], add[kRowVectors][8], w[kRowVectors][8];
  load_row(weight, cols, w);
  load_row(residual + r * cols, cols, values);
  load_row(x + r * cols, cols, add);
#pragma unroll
  for (int k = 0; k < kRowVectors; ++k) {
    const std::int64_t v = threadIdx.x + k * blockDim.x;
    if (v >= cols / 8) continue;
#pragma unroll
    for (int i = 0; i < 8; ++i) values[k][i] = to_float(from_float<T>(values[k][i] + add[k][i]));
    store8(residual + r * cols + v * 8, values[k]);
  }
  normalize_row(values, w, eps, cols, out + r * cols);
}

// One warp per head.
template <typename T>
__global__ void head_rms_norm_kernel(T* qkv, std::int64_t row_width, Heads heads, const T* q_weight, const T* k_weight,
                                     float eps) {
  const std::int64_t t = blockIdx.x;
  const int head = blockIdx.y * (blockDim.x / 32) + threadIdx.x / 32;
  if (head >= heads.q_heads + heads.kv_heads) return;
  const int lane = threadIdx.x % 32;
  T* x = qkv + t * row_width + static_cast<std::int64_t>(head) * heads.head_dim;
  const T* weight = head < heads.q_heads ? q_weight : k_weight;
  float sum = 0.0f;
  for (int i = lane; i < heads.head_dim; i += 32) {
    const float v = to_float(x[i]);
    sum += v * v;
  }
  const float scale = rsqrtf(warp_sum(sum) / static_cast<float>(heads.head_dim) + eps);
  for (int i = lane; i < heads.head_dim; i += 32) x[i] = from_float<T>(to_float(x[i]) * scale * to_float(weight[i]));
}

// A thread per rotated pair (x[i], x[i + half]) of the q and k heads of a token, the k pairs also stored
// in the token's cache slot, then a thread per element of its v heads, copied there; blockIdx.x is the
// token's entry in `token_rows`, blockIdx.y a slice of its pairs and elements.
template <typename T>
__global__ void rotary_write_kv_kernel(T* qkv, std::int64_t row_width, Heads heads, const float* cos_sin,
                                       const std::int32_t* positions, T* keys, T* values, const std::int64_t* slots,
                                       const std::int32_t* token_rows) {
  const std::int64_t t = token_rows[blockIdx.x];
  const int half = heads.head_dim / 2;
  const int pairs = (heads.q_heads + heads.kv_heads) * half;
  const std::int64_t kv_width = static_cast<std::int64_t>(heads.kv_heads) * heads.head_dim;
  const int p = blockIdx.y * blockDim.x + threadIdx.x;
  const std::int64_t slot = slots[t];  // -1: padding of a graph's batch
  T* row = qkv + t * row_width;
  if (p >= pairs) {
    const std::int64_t i = p - pairs;
    if (slot >= 0 && i < kv_width) values[slot * kv_width + i] = row[(heads.q_heads + heads.kv_heads) * heads.head_dim + i];
    return;
  }
  const int head = p / half;
  const int i = p % half;
  const float* angles = cos_sin + static_cast<std::int64_t>(positions[t]) * heads.head_dim;
  T* x = row + static_cast<std::int64_t>(head) * heads.head_dim;
  const float x1 = to_float(x[i]), x2 = to_float(x[i + half]), c = angles[i], s = angles[half + i];
  const T y1 = from_float<T>(rotate(x1, x2, c, s, false)), y2 = from_float<T>(rotate(x2, x1, c, s, true));
  x[i] = y1;
  x[i + half] = y2;
  if (head >= heads.q_heads && slot >= 0) {
    T* k = keys + slot * kv_width + static_cast<std::int64_t>(head - heads.q_heads) * heads.head_dim;
    k[i] = y1;
    k[i + half] = y2;
  }
}

// 8 elements per thread: blockIdx.x a slice of kRowThreads vectors of a row, blockIdx.y the row (and every
// gridDim.y-th after it). Rows in the grid rather than in a flat index spare each thread a 64-bit division.
template <typename T>
__global__ void silu_mul_kernel(const T* gate_up, std::int64_t rows, std::int64_t width, T* out) {
  const std::int64_t c = (static_cast<std::int64_t>(blockIdx.x) * blockDim.x + threadIdx.x) * 8;
  if (c >= width) return;
  for (std::int64_t r = blockIdx.y; r < rows; r += gridDim.y) {
    float gate[8], up[8];
    load8(gate_up + r * 2 * width + c, gate);
    load8(gate_up + r * 2 * width + width + c, up);
#pragma unroll
    for (int i = 0; i < 8; ++i) gate[i] = silu_times(gate[i], up[i]);
    store8(out + r * width + c, gate);
  }
}

// 16-byte copies: rows are multiples of 16 bytes (gather_rows).
__global__ void gather_rows_kernel(const int4* x, std::int64_t row_vectors, const std::int32_t* rows, int4* out) {
  const std::int64_t r = blockIdx.x;
  const int4* source = x + static_cast<std::int64_t>(rows[r]) * row_vectors;
  for (std::int64_t v = threadIdx.x; v < row_vectors; v += blockDim.x) out[r * row_vectors + v] = source[v];
}

template <typename T>
__global__ void fill_uniform_kernel(T* tensor, std::int64_t count, std::uint64_t seed, float low, float high) {
  for (std::int64_t i = blockIdx.x * static_cast<std::int64_t>(blockDim.x) + threadIdx.x; i < count;
       i += static_cast<std::int64_t>(gridDim.x) * blockDim.x) {
    const std::uint64_t x = splitmix64(seed * kSplitmixGamma + static_cast<std::uint64_t>(i));  // as uniform_at()
    tensor[i] = from_float<T>(low + (high - low) * static_cast<float>(x >> 40) * 0x1.0p-24f);
  }
}

}  // namespace

void fill_uniform(Element e, void* tensor, std::int64_t count, std::uint64_t seed, float low, float high,
                  cudaStream_t stream) {
  if (count == 0) return;
  LLMCTL_DISPATCH(e, fill_uniform_kernel<T><<<1024, 256, 0, stream>>>(static_cast<T*>(tensor), count, seed, low, high);)
  check_launch("fill_uniform");
}

void embed(Element e, const void* table, std::int64_t width, const StepView& step, const SampleResult* drawn, void* out,
           cudaStream_t stream) {
  if (width % 8 != 0) throw std::runtime_error("embed: the width must be a multiple of 8");
  LLMCTL_DISPATCH(e, embed_kernel<T><<<step.num_tokens, kRowThreads, 0, stream>>>(
                         static_cast<const T*>(table), width, step.token_ids, drawn, static_cast<T*>(out));)
  check_launch("embed");
}

void rms_norm(Element e, const void* x, const void* weight, float eps, std::int64_t rows, std::int64_t cols, void* out,
              cudaStream_t stream) {
  LLMCTL_DISPATCH(e, rms_norm_kernel<T><<<rows, row_threads(cols), 0, stream>>>(static_cast<const T*>(x), static_cast<const T*>(weight),
                                                                          eps, cols, static_cast<T*>(out));)
  check_launch("rms_norm");
}

void add_rms_norm(Element e, void* residual, const void* x, const void* weight, float eps, std::int64_t rows,
                  std::int64_t cols, void* out, cudaStream_t stream) {
  LLMCTL_DISPATCH(e, add_rms_norm_kernel<T><<<rows, row_threads(cols), 0, stream>>>(
                         static_cast<T*>(residual), static_cast<const T*>(x), static_cast<const T*>(weight), eps, cols,
                         static_cast<T*>(out));)
  check_launch("add_rms_norm");
}

void head_rms_norm(Element e, void* qkv, std::int64_t rows, std::int64_t row_width, const Heads& heads,
                   const void* q_weight, const void* k_weight, float eps, cudaStream_t stream) {
  constexpr int warps = 8;
  const dim3 grid(static_cast<unsigned>(rows), (heads.q_heads + heads.kv_heads + warps - 1) / warps);
  LLMCTL_DISPATCH(e, head_rms_norm_kernel<T><<<grid, warps * 32, 0, stream>>>(
                         static_cast<T*>(qkv), row_width, heads, static_cast<const T*>(q_weight),
                         static_cast<const T*>(k_weight), eps);)
  check_launch("head_rms_norm");
}

void rotary_write_kv(Element e, void* qkv, std::int64_t row_width, const Heads& heads, const float* cos_sin,
                     void* keys, void* values, const StepView& step, const std::int32_t* token_rows, std::int64_t count,
                     cudaStream_t stream) {
  if (count == 0) return;
  const std::int64_t items = (heads.q_heads + heads.kv_heads) * (heads.head_dim / 2) + heads.kv_heads * heads.head_dim;
  const dim3 grid(static_cast<unsigned>(count), static_cast<unsigned>((items + kRowThreads - 1) / kRowThreads));
  LLMCTL_DISPATCH(e, rotary_write_kv_kernel<T><<<grid, kRowThreads, 0, stream>>>(
                         static_cast<T*>(qkv), row_width, heads, cos_sin, step.positions, static_cast<T*>(keys),
                         static_cast<T*>(values), step.slot_mapping, token_rows);)
  check_launch("rotary_write_kv");
}

void silu_mul(Element e, const void* gate_up, std::int64_t rows, std::int64_t width, void* out, cudaStream_t stream) {
  if (width % 8 != 0) throw std::runtime_error("silu_mul: the width must be a multiple of 8");
  if (rows == 0 || width == 0) return;
  const dim3 grid(static_cast<unsigned>((width / 8 + kRowThreads - 1) / kRowThreads),
                  static_cast<unsigned>(std::min<std::int64_t>(rows, 65535)));
  LLMCTL_DISPATCH(e, silu_mul_kernel<T><<<grid, kRowThreads, 0, stream>>>(static_cast<const T*>(gate_up), rows, width,
                                                                          static_cast<T*>(out));)
  check_launch("silu_mul");
}

void gather_rows(const void* x, std::int64_t row_bytes, const std::int32_t* rows, std::int64_t count, void* out,
                 cudaStream_t stream) {
  if (count == 0) return;
  if (row_bytes % 16 != 0) throw std::runtime_error("gather_rows: rows must be multiples of 16 bytes");
  gather_rows_kernel<<<count, kRowThreads, 0, stream>>>(static_cast<const int4*>(x), row_bytes / 16, rows,
                                                        static_cast<int4*>(out));
  check_launch("gather_rows");
}

}  // namespace llmctl::kernels
