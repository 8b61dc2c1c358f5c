#pragma once

#include "device_attributes.hpp"
#include "kernels.hpp"

#include <cuda_bf16.h>
#include <cuda_fp16.h>

#include <cfloat>

#include <stdexcept>
#include <string>

namespace llmctl::kernels {

inline __device__ float to_float(__nv_bfloat16 x) { return __bfloat162float(x); }
inline __device__ float to_float(__half x) { return __half2float(x); }
template <typename T>
__device__ T from_float(float x);
template <>
inline __device__ __nv_bfloat16 from_float<__nv_bfloat16>(float x) { return __float2bfloat16(x); }
template <>
inline __device__ __half from_float<__half>(float x) { return __float2half(x); }

inline void check_launch(const char* what) {
  const cudaError_t error = cudaGetLastError();
  if (error != cudaSuccess) throw std::runtime_error(std::string(what) + ": " + cudaGetErrorString(error));
}

// Programmatic dependent launch (sm_90): a kernel launched by launch_overlapped() may start while the
// kernel before it in the stream still runs, once that one called let_next_kernel_start() in all its
// blocks; it must call wait_for_previous_kernel() before it reads anything the previous kernels wrote
// (or writes anything they read). Both are no-ops elsewhere, and for kernels launched plainly.
inline __device__ void let_next_kernel_start() {
#if __CUDA_ARCH__ >= 900
  asm volatile("griddepcontrol.launch_dependents;");
#endif
}
inline __device__ void wait_for_previous_kernel() {
#if __CUDA_ARCH__ >= 900
  asm volatile("griddepcontrol.wait;" ::: "memory");
#endif
}
template <typename... Params, typename... Args>
void launch_overlapped(void (*kernel)(Params...), dim3 grid, dim3 block, std::size_t shared_bytes, cudaStream_t stream,
                       Args... args) {
  cudaLaunchAttribute overlap{};
  overlap.id = cudaLaunchAttributeProgrammaticStreamSerialization;
  overlap.val.programmaticStreamSerializationAllowed = 1;
  cudaLaunchConfig_t config{};
  config.gridDim = grid;
  config.blockDim = block;
  config.dynamicSmemBytes = shared_bytes;
  config.stream = stream;
  config.attrs = &overlap;
  config.numAttrs = compute_capability_major() >= 9 ? 1 : 0;
  const cudaError_t error = cudaLaunchKernelEx(&config, kernel, static_cast<Params>(args)...);
  if (error != cudaSuccess) throw std::runtime_error(std::string("kernel launch: ") + cudaGetErrorString(error));
}

// Lets kKernel take `bytes` of dynamic shared memory (more than 48 KB needs asking), once per kernel: a
// kernel's shared memory depends on its template arguments alone. Throws what the runtime refuses.
template <auto kKernel>
void reserve_shared_memory(int bytes, const char* what) {
  static const cudaError_t error = cudaFuncSetAttribute(kKernel, cudaFuncAttributeMaxDynamicSharedMemorySize, bytes);
  if (error != cudaSuccess) throw std::runtime_error(std::string(what) + ": " + cudaGetErrorString(error));
}

// silu(gate) * up, as every kernel computes it: the fused products and silu_mul agree bit for bit.
inline __device__ float silu_times(float gate, float up) { return gate / (1.0f + __expf(-gate)) * up; }

// The 32-bit shared-memory address of `p` that PTX's shared-space instructions take.
inline __device__ std::uint32_t shared_address(const void* p) {
  return static_cast<std::uint32_t>(__cvta_generic_to_shared(p));
}

// Runs the statements with T the CUDA type of `e` (device code is C++17: no templated lambdas).
#define LLMCTL_DISPATCH(e, ...)       \
  if ((e) == Element::bf16) {         \
    using T = __nv_bfloat16;          \
    __VA_ARGS__                       \
  } else {                            \
    using T = __half;                 \
    __VA_ARGS__                       \
  }

// splitmix64, as libengine/common/splitmix.hpp computes it on the host: the two must agree.
constexpr std::uint64_t kSplitmixGamma = 0x9e3779b97f4a7c15ull;
inline __device__ std::uint64_t splitmix64(std::uint64_t x) {
  x = (x ^ (x >> 30)) * 0xbf58476d1ce4e5b9ull;
  x = (x ^ (x >> 27)) * 0x94d049bb133111ebull;
  return x ^ (x >> 31);
}

struct Add {
  __device__ float operator()(float a, float b) const { return a + b; }
};
struct Max {
  __device__ float operator()(float a, float b) const { return fmaxf(a, b); }
};

// `value` reduced by `op` over the warp, returned to every lane.
template <typename Op>
inline __device__ float warp_reduce(float value, Op op) {
  for (int offset = 16; offset > 0; offset /= 2) value = op(value, __shfl_xor_sync(0xffffffffu, value, offset));
  return value;
}

// `value` reduced by `op` (whose identity is `identity`) over the block (blockDim.x a multiple of 32, at
// most 1024), returned to every thread.
template <typename Op>
inline __device__ float block_reduce(float value, float identity, Op op) {
  __shared__ float partial[32];
  value = warp_reduce(value, op);
  const int warp = threadIdx.x / 32;
  const int lane = threadIdx.x % 32;
  __syncthreads();  // `partial` may still be read by a previous call
  if (lane == 0) partial[warp] = value;
  __syncthreads();
  const int warps = blockDim.x / 32;
  return warp_reduce(lane < warps ? partial[lane] : identity, op);
}

inline __device__ float warp_sum(float value) { return warp_reduce(value, Add{}); }
inline __device__ float block_sum(float value) { return block_reduce(value, 0.0f, Add{}); }
inline __device__ float block_max(float value) { return block_reduce(value, -FLT_MAX, Max{}); }

// RoPE in Hugging Face's rotate_half layout: element d of a head of `dim` elements turns with its partner
// d ± dim / 2 by the angle of pair d mod dim / 2; `angles` holds one position's dim / 2 cosines, then its
// sines. Every kernel that rotates rounds the result to T once, as the model stores it.
inline __device__ float rotate(float x, float partner, float cosine, float sine, bool upper_half) {
  return upper_half ? x * cosine + partner * sine : x * cosine - partner * sine;
}
template <typename T>
inline __device__ T rotated(const T* head, const float* angles, int d, int dim) {
  const int half = dim / 2, i = d % half;
  return from_float<T>(rotate(to_float(head[d]), to_float(head[d < half ? d + half : d - half]), angles[i],
                              angles[half + i], d >= half));
}
// Elements d .. d + 7 of the rotated head, as `rotated` gives them, in 16-byte loads: d and dim / 2
// multiples of 8.
template <typename T>
inline __device__ int4 rotated8(const T* head, const float* angles, int d, int dim) {
  const int half = dim / 2, i = d % half;
  const int4 x_bits = *reinterpret_cast<const int4*>(head + d);
  const int4 partner_bits = *reinterpret_cast<const int4*>(head + (d < half ? d + half : d - half));
  const T* x = reinterpret_cast<const T*>(&x_bits);
  const T* partner = reinterpret_cast<const T*>(&partner_bits);
  float cosine[8], sine[8];
  *reinterpret_cast<float4*>(cosine) = *reinterpret_cast<const float4*>(angles + i);
  *reinterpret_cast<float4*>(cosine + 4) = *reinterpret_cast<const float4*>(angles + i + 4);
  *reinterpret_cast<float4*>(sine) = *reinterpret_cast<const float4*>(angles + half + i);
  *reinterpret_cast<float4*>(sine + 4) = *reinterpret_cast<const float4*>(angles + half + i + 4);
  int4 out;
  T* y = reinterpret_cast<T*>(&out);
#pragma unroll
  for (int e = 0; e < 8; ++e)
    y[e] = from_float<T>(rotate(to_float(x[e]), to_float(partner[e]), cosine[e], sine[e], d >= half));
  return out;
}

// The cache slot of key j, whose page (cache block of 2^page_shift tokens) is `page`: its sequence's
// block-table entry j >> page_shift.
inline __device__ std::int64_t slot_in_page(std::int32_t page, int page_shift, std::int64_t j) {
  return (static_cast<std::int64_t>(page) << page_shift) + (j & ((1 << page_shift) - 1));
}

// The cache slot of key j of a sequence with block table `table`.
inline __device__ std::int64_t cache_slot(const std::int32_t* table, int page_shift, std::int64_t j) {
  return slot_in_page(table[j >> page_shift], page_shift, j);
}

// log2 of StepView::block_size (a power of two), for cache_slot.
inline __device__ int page_shift_of(const StepView& step) { return __ffs(step.block_size) - 1; }

// Copies keys and values [key0, key0 + count) of one kv head (its first element at `head_offset` in a
// cache row) from the paged cache into shared-memory rows of `row_stride` elements, 16 bytes per thread
// at a time over the whole block; keys at or past `end` become zeros. `table` is the sequence's block
// table; `dim` a multiple of 8.
template <typename T>
__device__ void gather_kv_tile(const T* keys, const T* values, const std::int32_t* table, int page_shift,
                               std::int64_t kv_width, std::int64_t head_offset, int dim, std::int64_t key0, int count,
                               std::int64_t end, int row_stride, T* k_tile, T* v_tile) {
  const int chunks = dim / 8;
  for (int x = threadIdx.x; x < count * chunks; x += blockDim.x) {
    const int key = x / chunks, c = x % chunks;
    const std::int64_t j = key0 + key;
    int4 k = make_int4(0, 0, 0, 0), v = make_int4(0, 0, 0, 0);
    if (j < end) {
      const std::int64_t slot = cache_slot(table, page_shift, j);
      k = *reinterpret_cast<const int4*>(keys + slot * kv_width + head_offset + c * 8);
      v = *reinterpret_cast<const int4*>(values + slot * kv_width + head_offset + c * 8);
    }
    *reinterpret_cast<int4*>(k_tile + key * row_stride + c * 8) = k;
    *reinterpret_cast<int4*>(v_tile + key * row_stride + c * 8) = v;
  }
}

}  // namespace llmctl::kernels
