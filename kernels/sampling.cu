// Sampling on the GPU for rows that need only a temperature: one block per row reads its logits once
// for the maximum, the sum of exponentials (the sampled token's logprob) and the Gumbel-max winner.
#include "common.cuh"

#include <cfloat>

namespace llmctl::kernels {
namespace {

constexpr int kThreads = 1024;

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

__global__ void __launch_bounds__(kThreads) sample_kernel(const float* logits, std::int64_t vocab,
                                                          const SampleRequest* requests, SampleResult* results) {
  const SampleRequest request = requests[blockIdx.x];
  const float* row = logits + static_cast<std::int64_t>(request.row) * vocab;
  const bool greedy = request.temperature <= 0.0f;
  const float inverse_temperature = greedy ? 1.0f : 1.0f / request.temperature;
  float max_logit = -FLT_MAX;
  Best best{-FLT_MAX, 0x7fffffff};
  for (std::int64_t i = threadIdx.x; i < vocab; i += kThreads) {
    const float logit = row[i];
    max_logit = fmaxf(max_logit, logit);
    // Precise logarithms: __logf's absolute error near 1 (about 2^-21) can make -log(u) zero or negative.
    const float score = greedy ? logit : logit * inverse_temperature - logf(-logf(uniform(request.seed, static_cast<std::uint64_t>(i))));
    best = better(best, {score, static_cast<std::int32_t>(i)});
  }
  // Block reductions: the maximum and the winner.
  __shared__ float maxima[kThreads / 32];
  __shared__ Best winners[kThreads / 32];
  for (int offset = 16; offset > 0; offset /= 2) {
    max_logit = fmaxf(max_logit, __shfl_xor_sync(0xffffffffu, max_logit, offset));
    const Best other{__shfl_xor_sync(0xffffffffu, best.score, offset), __shfl_xor_sync(0xffffffffu, best.token, offset)};
    best = better(best, other);
  }
  const int warp = threadIdx.x / 32, lane = threadIdx.x % 32;
  if (lane == 0) {
    maxima[warp] = max_logit;
    winners[warp] = best;
  }
  __syncthreads();
  if (threadIdx.x == 0) {
    for (int w = 1; w < kThreads / 32; ++w) {
      maxima[0] = fmaxf(maxima[0], maxima[w]);
      winners[0] = better(winners[0], winners[w]);
    }
  }
  __syncthreads();
  const float m = maxima[0];
  float sum = 0.0f;
  for (std::int64_t i = threadIdx.x; i < vocab; i += kThreads) sum += __expf(row[i] - m);
  sum = block_sum(sum);
  if (threadIdx.x == 0) {
    const std::int32_t token = winners[0].token;
    results[blockIdx.x] = {token, row[token] - m - __logf(sum)};
  }
}

}  // namespace

void sample_rows(const float* logits, std::int64_t vocab, const SampleRequest* requests, std::int64_t count,
                 SampleResult* results, cudaStream_t stream) {
  if (count == 0) return;
  sample_kernel<<<static_cast<unsigned>(count), kThreads, 0, stream>>>(logits, vocab, requests, results);
  check_launch("sample_rows");
}

}  // namespace llmctl::kernels
