// Sampling on the GPU for rows that need only a temperature, by the Gumbel-max trick. A row's logits are
// read once, in slices of kSliceElements over as many blocks: each block finds its slice's maximum, sum
// of exponentials (for the sampled token's logprob) and Gumbel-max winner; the last block of a row to
// finish merges the slices in order (so the result does not depend on which finished first).
#include "common.cuh"

#include <cfloat>

namespace llmctl::kernels {
namespace {

constexpr int kThreads = 256;
constexpr int kPerThread = 32;  // logits per thread and slice, all requested before the first is used
constexpr int kSliceElements = kThreads * kPerThread;

// In [2^-24, 1 - 2^-24], exactly: 23 bits plus a half stay representable in a float. (24 bits plus a
// half rounded the top values to 1.0, whose -log(-log(u)) is +inf: one token in 2^24 won whatever its
// probability, about 1% of the rows of a 152k vocabulary.)
__device__ float uniform(std::uint64_t seed, std::uint64_t index) {
  const std::uint64_t x = splitmix64(seed ^ (index * kSplitmixGamma));
  return (static_cast<float>(x >> 41) + 0.5f) * 0x1.0p-23f;
}

struct Best {
  float score;
  std::int32_t token;
};

__device__ Best better(Best a, Best b) { return (b.score > a.score || (b.score == a.score && b.token < a.token)) ? b : a; }

// What a slice of a row leaves for the merge: its maximum logit, the sum of exp(logit - maximum) over it,
// and its winner.
struct Slice {
  float max_logit;
  float sum;
  Best best;
};

__device__ Slice merge(const Slice& a, const Slice& b) {
  const float m = fmaxf(a.max_logit, b.max_logit);
  return {m, a.sum * __expf(a.max_logit - m) + b.sum * __expf(b.max_logit - m), better(a.best, b.best)};
}

// Row i's part of the workspace: a counter of its finished slices (zero between calls: the last block
// resets it), then its partial results, one a slice. Its place depends on i alone, not on how many rows
// a call samples, so each call leaves the counters zero for the next whatever their row counts.
static_assert(alignof(Slice) == alignof(unsigned), "a row's slices follow its counter unpadded");
__host__ __device__ std::size_t row_workspace_bytes(std::int64_t slices) {
  return sizeof(unsigned) + static_cast<std::size_t>(slices) * sizeof(Slice);
}

// blockIdx.x: the row (request), blockIdx.y: the slice.
__global__ void __launch_bounds__(kThreads)
    sample_kernel(const float* logits, std::int64_t vocab, const SampleRequest* requests, unsigned char* workspace,
                  SampleResult* results) {
  const SampleRequest request = requests[blockIdx.x];
  unsigned char* own = workspace + blockIdx.x * row_workspace_bytes(gridDim.y);
  auto* done = reinterpret_cast<unsigned*>(own);
  auto* slices = reinterpret_cast<Slice*>(own + sizeof(unsigned));
  const float* row = logits + static_cast<std::int64_t>(request.row) * vocab;
  const bool greedy = request.temperature <= 0.0f;
  const float inverse_temperature = greedy ? 1.0f : 1.0f / request.temperature;
  const std::int64_t begin = static_cast<std::int64_t>(blockIdx.y) * kSliceElements;
  float values[kPerThread];
#pragma unroll
  for (int k = 0; k < kPerThread; ++k) {
    const std::int64_t i = begin + k * kThreads + threadIdx.x;
    values[k] = i < vocab ? row[i] : -FLT_MAX;
  }
  float max_logit = -FLT_MAX;
  Best best{-FLT_MAX, 0x7fffffff};
#pragma unroll
  for (int k = 0; k < kPerThread; ++k) {
    const std::int64_t i = begin + k * kThreads + threadIdx.x;
    if (i >= vocab) break;
    max_logit = fmaxf(max_logit, values[k]);
    // Precise logarithms: __logf's absolute error near 1 (about 2^-21) can make -log(u) zero or negative.
    const float score = greedy ? values[k] : values[k] * inverse_temperature - logf(-logf(uniform(request.seed, i)));
    best = better(best, {score, static_cast<std::int32_t>(i)});
  }
  // The slice's maximum and winner, then its sum of exponentials.
  __shared__ float maxima[kThreads / 32];
  __shared__ Best winners[kThreads / 32];
  for (int offset = 16; offset > 0; offset /= 2) {
    max_logit = fmaxf(max_logit, __shfl_xor_sync(0xffffffffu, max_logit, offset));
    best = better(best, {__shfl_xor_sync(0xffffffffu, best.score, offset), __shfl_xor_sync(0xffffffffu, best.token, offset)});
  }
  const int warp = threadIdx.x / 32, lane = threadIdx.x % 32;
  if (lane == 0) {
    maxima[warp] = max_logit;
    winners[warp] = best;
  }
  __syncthreads();
  for (int w = 0; w < kThreads / 32; ++w) {
    max_logit = fmaxf(max_logit, maxima[w]);
    best = better(best, winners[w]);
  }
  float sum = 0.0f;
#pragma unroll
  for (int k = 0; k < kPerThread; ++k)
    if (begin + k * kThreads + threadIdx.x < vocab) sum += __expf(values[k] - max_logit);
  sum = block_sum(sum);

  __shared__ bool last;
  if (threadIdx.x == 0) {
    slices[blockIdx.y] = {max_logit, sum, best};
    __threadfence();  // the slice is visible before the count says so
    last = atomicAdd(done, 1u) == gridDim.y - 1;
  }
  __syncthreads();
  if (!last || threadIdx.x != 0) return;
  __threadfence();
  Slice total{-FLT_MAX, 0.0f, {-FLT_MAX, 0x7fffffff}};
  for (unsigned s = 0; s < gridDim.y; ++s) {
    const Slice* slice = slices + s;
    total = merge(total, {__ldcg(&slice->max_logit), __ldcg(&slice->sum),
                          {__ldcg(&slice->best.score), __ldcg(&slice->best.token)}});
  }
  const std::int32_t token = total.best.token < vocab ? total.best.token : 0;  // none: every logit -inf or NaN
  results[blockIdx.x] = {token, row[token] - total.max_logit - __logf(total.sum)};
  *done = 0;  // ready for the next call
}

std::int64_t slices_of(std::int64_t vocab) { return (vocab + kSliceElements - 1) / kSliceElements; }

}  // namespace

// Each row's counter and slices (zeroed once, when the workspace is allocated).
std::size_t sample_workspace_bytes(std::int64_t rows, std::int64_t vocab) {
  return static_cast<std::size_t>(rows) * row_workspace_bytes(slices_of(vocab));
}

void sample_rows(const float* logits, std::int64_t vocab, const SampleRequest* requests, std::int64_t count,
                 SampleResult* results, void* workspace, cudaStream_t stream) {
  if (count == 0) return;
  sample_kernel<<<dim3(static_cast<unsigned>(count), static_cast<unsigned>(slices_of(vocab))), kThreads, 0, stream>>>(
      logits, vocab, requests, static_cast<unsigned char*>(workspace), results);
  check_launch("sample_rows");
}

}  // namespace llmctl::kernels
