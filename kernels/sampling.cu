// Sampling on the GPU. Rows with bans or penalties have their few adjusted logits changed in place
// first (adjust_kernel). Rows that need only a temperature (or none: greedy) are drawn by the Gumbel-max
// trick with the row read once, in slices of kSliceElements over as many blocks: each block finds its
// slice's Gumbel-max winner; the last block of a row to finish merges the winners in order (so the
// result does not depend on which finished first). Rows with min_p, top_k or top_p take one block each
// (filtered_kernel): it finds the value thresholds of top_k and top_p by histograms over narrowing value
// ranges, then draws the same way among the tokens they keep.
#include "common.cuh"

#include <cfloat>

namespace llmctl::kernels {
namespace {

constexpr int kThreads = 256;
constexpr int kPerThread = 32;  // logits per thread and slice, all requested before the first is used
constexpr int kSliceElements = kThreads * kPerThread;

// lowbias32, as libengine/common/splitmix.hpp's mix32: the two must agree.
__device__ std::uint32_t mix32(std::uint32_t x) {
  x = (x ^ (x >> 16)) * 0x7feb352du;
  x = (x ^ (x >> 15)) * 0x846ca68bu;
  return x ^ (x >> 16);
}

// The Gumbel noise of token `index` in a row drawn with `seed`: a 64-bit key mixed from the seed once a
// row, then two rounds of a 32-bit mixer keyed by its halves (a 64-bit mixer for every token costs several
// times the multiplies), 23 bits of which give u in [2^-24, 1 - 2^-24], exactly: 23 bits plus a half stay
// representable in a float. (24 bits plus a half rounded the top values to 1.0, whose -log(-log(u)) is
// +inf: one token in 2^24 won whatever its probability.) The inner logarithm is precise: __logf's
// absolute error near 1, about 2^-21, can make -log(u) zero or negative. The outer one's argument is
// positive, and __logf's 3 ulp there move a score by far less than the noise spreads them.
struct NoiseKey {
  std::uint32_t low, high;
};
__device__ NoiseKey noise_key(std::uint64_t seed) {
  const std::uint64_t key = splitmix64(seed);
  return {static_cast<std::uint32_t>(key), static_cast<std::uint32_t>(key >> 32)};
}
__device__ float gumbel(NoiseKey key, std::int64_t index) {
  const std::uint32_t x = mix32(mix32(static_cast<std::uint32_t>(index) ^ key.low) ^ key.high);
  const float u = (static_cast<float>(x >> 9) + 0.5f) * 0x1.0p-23f;
  return -__logf(-logf(u));
}

// Whether a row draws with min_p, top_k or top_p (a greedy one ignores them): Backend::DeviceSample's
// filtered(), which the backends' hosts ask.
__device__ bool filters(const SampleRequest& request, std::int64_t vocab) {
  return request.temperature > 0.0f &&
         ((request.top_k > 0 && request.top_k < vocab) || request.top_p < 1.0f || request.min_p > 0.0f);
}

struct Best {
  float score;
  std::int32_t token;
};

__device__ Best better(Best a, Best b) { return (b.score > a.score || (b.score == a.score && b.token < a.token)) ? b : a; }

// The best of the block's, one a thread, returned to every thread (the block's size a multiple of 32).
__device__ Best block_best(Best best) {
  __shared__ Best winners[32];
  for (int offset = 16; offset > 0; offset /= 2)
    best = better(best, {__shfl_xor_sync(0xffffffffu, best.score, offset), __shfl_xor_sync(0xffffffffu, best.token, offset)});
  if (threadIdx.x % 32 == 0) winners[threadIdx.x / 32] = best;
  __syncthreads();
  for (unsigned w = 0; w < blockDim.x / 32; ++w) best = better(best, winners[w]);
  return best;
}

// Row i's part of the workspace: a counter of its finished slices (zero between calls: the last block
// resets it), then the slices' winners. Its place depends on i alone, not on how many rows a call
// samples, so each call leaves the counters zero for the next whatever their row counts.
static_assert(alignof(Best) == alignof(unsigned), "a row's winners follow its counter unpadded");
__host__ __device__ std::size_t row_workspace_bytes(std::int64_t slices) {
  return sizeof(unsigned) + static_cast<std::size_t>(slices) * sizeof(Best);
}

// blockIdx.x: the row (request), blockIdx.y: the slice.
__global__ void __launch_bounds__(kThreads)
    sample_kernel(const float* logits, std::int64_t vocab, const SampleRequest* requests, unsigned char* workspace,
                  SampleResult* results) {
  const SampleRequest request = requests[blockIdx.x];
  if (filters(request, vocab)) return;  // filtered_kernel's
  unsigned char* own = workspace + blockIdx.x * row_workspace_bytes(gridDim.y);
  auto* done = reinterpret_cast<unsigned*>(own);
  auto* winners = reinterpret_cast<Best*>(own + sizeof(unsigned));
  const float* row = logits + static_cast<std::int64_t>(request.row) * vocab;
  const bool greedy = request.temperature <= 0.0f;
  const float inverse_temperature = greedy ? 1.0f : 1.0f / request.temperature;
  const NoiseKey key = noise_key(request.seed);
  const std::int64_t begin = static_cast<std::int64_t>(blockIdx.y) * kSliceElements;
  float values[kPerThread];
#pragma unroll
  for (int k = 0; k < kPerThread; ++k) {
    const std::int64_t i = begin + k * kThreads + threadIdx.x;
    values[k] = i < vocab ? row[i] : -FLT_MAX;
  }
  Best best{-FLT_MAX, 0x7fffffff};
#pragma unroll
  for (int k = 0; k < kPerThread; ++k) {
    const std::int64_t i = begin + k * kThreads + threadIdx.x;
    if (i >= vocab) break;
    const float score = greedy ? values[k] : values[k] * inverse_temperature + gumbel(key, i);
    best = better(best, {score, static_cast<std::int32_t>(i)});
  }
  best = block_best(best);

  __shared__ bool last;
  if (threadIdx.x == 0) {
    winners[blockIdx.y] = best;
    __threadfence();  // the winner is visible before the count says so
    last = atomicAdd(done, 1u) == gridDim.y - 1;
  }
  __syncthreads();
  if (!last || threadIdx.x != 0) return;
  __threadfence();
  Best total{-FLT_MAX, 0x7fffffff};
  for (unsigned s = 0; s < gridDim.y; ++s)
    total = better(total, {__ldcg(&winners[s].score), __ldcg(&winners[s].token)});
  results[blockIdx.x] = {total.token < vocab ? total.token : 0};  // none: every logit -inf or NaN
  *done = 0;  // ready for the next call
}

// --- Bans and penalties --------------------------------------------------------------------------

__device__ float adjusted(float logit, std::uint32_t flags, std::uint32_t count, const SampleRequest& request) {
  if (flags & kAdjustBanned) return -INFINITY;
  // vLLM's order and float arithmetic: repetition (prompt or output), then frequency, then presence.
  if (request.repetition_penalty != 1.0f && ((flags & kAdjustInPrompt) || count > 0))
    logit = logit > 0.0f ? logit / request.repetition_penalty : logit * request.repetition_penalty;
  if (count > 0) {
    logit -= __fmul_rn(request.frequency_penalty, static_cast<float>(count));  // not fused: as the host rounds
    logit -= request.presence_penalty;
  }
  return logit;
}

// blockIdx.x: the row. The pending token (drawn by the previous call) counts once more in the output:
// through its entry when the row has one, else as a token of its own.
__global__ void __launch_bounds__(kThreads)
    adjust_kernel(float* logits, std::int64_t vocab, const SampleRequest* requests, const SampleAdjustment* adjustments,
                  const SampleResult* previous) {
  const SampleRequest request = requests[blockIdx.x];
  if (request.adjustments_count == 0 && request.pending < 0) return;
  float* row = logits + static_cast<std::int64_t>(request.row) * vocab;
  const std::int32_t pending = request.pending >= 0 ? previous[request.pending].token : -1;
  __shared__ int pending_listed;
  if (threadIdx.x == 0) pending_listed = 0;
  __syncthreads();
  for (int e = threadIdx.x; e < request.adjustments_count; e += blockDim.x) {
    const SampleAdjustment adjustment = adjustments[request.adjustments_begin + e];
    if (adjustment.token < 0 || adjustment.token >= vocab) continue;
    std::uint32_t count = adjustment.flags & kAdjustCountMask;
    if (adjustment.token == pending) {
      ++count;
      pending_listed = 1;
    }
    row[adjustment.token] = adjusted(row[adjustment.token], adjustment.flags, count, request);
  }
  __syncthreads();
  if (threadIdx.x == 0 && pending >= 0 && pending < vocab && !pending_listed)
    row[pending] = adjusted(row[pending], 0u, 1u, request);
}

// --- min_p, top_k and top_p ------------------------------------------------------------------------

constexpr int kFilterThreads = 1024;
constexpr int kFilterUnroll = 4;    // 16-byte loads in flight per thread
constexpr int kBins = 2048;         // of a value range, per narrowing pass
constexpr int kCandidates = 1024;   // a boundary bin this small is resolved exactly in shared memory
static_assert(kCandidates == kFilterThreads, "kth_largest_of_block sorts the threads' maxima among the candidates");
constexpr float kMassScale = 0x1.0p40f;  // top_p's weights in fixed point: sums are exact, so deterministic

// NaN is never kept and +inf is the largest finite logit, as the host sampler reads them.
__device__ float clean(float x) {
  if (isnan(x)) return -INFINITY;
  return x == INFINITY ? FLT_MAX : x;
}

// f(i, logit) for every token of the row, in order of nothing in particular. One block reads the whole
// row, several times: 16-byte loads, kFilterUnroll of them in flight per thread, keep its one
// multiprocessor's loads in flight enough to read at L2 speed (a float at a time read the row at about a
// quarter of it).
template <typename F>
__device__ void for_each_logit(const float* row, std::int64_t vocab, F f) {
  std::int64_t tail = 0;
  if (reinterpret_cast<std::uintptr_t>(row) % 16 == 0) {
    const auto* quads = reinterpret_cast<const float4*>(row);
    const std::int64_t count = vocab / 4;
    for (std::int64_t base = 0; base < count; base += kFilterThreads * kFilterUnroll) {
      float4 values[kFilterUnroll];
#pragma unroll
      for (int k = 0; k < kFilterUnroll; ++k) {
        const std::int64_t q = base + k * kFilterThreads + threadIdx.x;
        if (q < count) values[k] = quads[q];
      }
#pragma unroll
      for (int k = 0; k < kFilterUnroll; ++k) {
        const std::int64_t q = base + k * kFilterThreads + threadIdx.x;
        if (q >= count) continue;
        f(4 * q, clean(values[k].x));
        f(4 * q + 1, clean(values[k].y));
        f(4 * q + 2, clean(values[k].z));
        f(4 * q + 3, clean(values[k].w));
      }
    }
    tail = count * 4;
  }
  for (std::int64_t i = tail + threadIdx.x; i < vocab; i += kFilterThreads) f(i, clean(row[i]));
}

// Floats as unsigned integers of the same order.
__device__ unsigned ordered(float x) {
  const unsigned bits = __float_as_uint(x);
  return (bits & 0x80000000u) ? ~bits : bits | 0x80000000u;
}
__device__ float unordered(unsigned key) { return __uint_as_float((key & 0x80000000u) ? key & 0x7fffffffu : ~key); }

// min_p as a logit: a token's weight exp((x - max) / temperature) reaches min_p exactly when x reaches
// max + temperature * ln(min_p). Weights below e^-87 count as none (the host sampler's exp is 0 there),
// so the floor is at most 87 temperatures below the maximum. Rounded step by step, not fused, as
// cpu_sampling.cpp computes it.
__device__ float min_p_floor(float max_logit, float temperature, float min_p) {
  const float log_min_p = min_p > 0.0f ? fmaxf(logf(min_p), -87.0f) : -87.0f;
  return __fadd_rn(max_logit, __fmul_rn(temperature, log_min_p));
}

// top_k's measure: each finite token counts one.
struct CountFinite {
  __device__ unsigned long long operator()(float x) const { return x > -INFINITY ? 1ull : 0ull; }
};
// top_p's: a token kept by min_p and top_k (at least `floor`) weighs its weight, in fixed point.
struct KeptWeight {
  float max;
  float inverse_temperature;
  float floor;
  __device__ unsigned long long operator()(float x) const {
    return x >= floor ? __float2ull_rz(expf((x - max) * inverse_temperature) * kMassScale) : 0ull;
  }
};

struct Selection {
  unsigned long long bins[kBins];
  float candidates[kCandidates];
  unsigned long long measures[kCandidates];
  unsigned long long warp_totals[kFilterThreads / 32];
  unsigned long long above;   // the measure of counted tokens above the range
  unsigned long long target;
  unsigned count;             // tokens in the boundary bin
  unsigned lowest, highest;   // their ordered keys
  int boundary;
  float threshold;
};

// The k-th largest of the block's values, one a thread (k <= kFilterThreads), by a bitonic sort in
// `scratch` (kFilterThreads floats).
__device__ float kth_largest_of_block(float value, int k, float* scratch) {
  scratch[threadIdx.x] = value;
  __syncthreads();
  for (int size = 2; size <= kFilterThreads; size *= 2) {
    for (int stride = size / 2; stride > 0; stride /= 2) {
      const int partner = static_cast<int>(threadIdx.x) ^ stride;
      if (partner > static_cast<int>(threadIdx.x)) {
        const float a = scratch[threadIdx.x], b = scratch[partner];
        // Descending where threadIdx.x & size is 0, so that the last merge leaves all descending.
        if (((threadIdx.x & size) == 0) == (a < b)) {
          scratch[threadIdx.x] = b;
          scratch[partner] = a;
        }
      }
      __syncthreads();
    }
  }
  const float kth = scratch[k - 1];
  __syncthreads();
  return kth;
}

// The bin of x in [lo, hi]: 0 for hi, kBins - 1 for lo, non-increasing in x (so a bin's tokens are
// exactly those between its lowest and highest value). Halves keep hi - lo finite.
__device__ int bin_of(float x, float lo, float hi, float scale) {
  if (x >= hi) return 0;
  if (x <= lo) return kBins - 1;
  return static_cast<int>(fminf((hi * 0.5f - x * 0.5f) * scale, static_cast<float>(kBins - 1)));
}

// The largest value v such that the measure of the tokens at v or above reaches the target: k for
// top_k; for top_p (relative), top_p times the measure of all counted tokens. -inf when the target is
// out of reach. Each round histograms the counted tokens of [lo, hi] into kBins bins, finds the bin where
// the target is reached, and gathers that bin's tokens: few enough, they are ranked in shared memory;
// else the range narrows to them. Every sum is of integers, so the answer does not depend on order.
template <typename Measure>
__device__ float select_threshold(const float* row, std::int64_t vocab, float lo, float hi, Measure measure,
                                  unsigned long long target, float relative, Selection& s) {
  if (threadIdx.x == 0) s.above = 0;
  for (bool first = true;; first = false) {
    if (lo == hi) return hi;
    const float scale = static_cast<float>(kBins) / (hi * 0.5f - lo * 0.5f);
    for (int b = threadIdx.x; b < kBins; b += kFilterThreads) s.bins[b] = 0;
    __syncthreads();
    for_each_logit(row, vocab, [&](std::int64_t, float x) {
      if (x < lo || x > hi) return;
      if (const unsigned long long m = measure(x)) atomicAdd(&s.bins[bin_of(x, lo, hi, scale)], m);
    });
    __syncthreads();
    // An exclusive scan of the bins, two a thread, then the bin where above + the scan reaches the target.
    constexpr int kPerThread = kBins / kFilterThreads;
    unsigned long long own = 0;
#pragma unroll
    for (int k = 0; k < kPerThread; ++k) own += s.bins[threadIdx.x * kPerThread + k];
    unsigned long long inclusive = own;
    const int lane = threadIdx.x % 32, warp = threadIdx.x / 32;
    for (int offset = 1; offset < 32; offset *= 2) {
      const unsigned long long up = __shfl_up_sync(0xffffffffu, inclusive, offset);
      if (lane >= offset) inclusive += up;
    }
    if (lane == 31) s.warp_totals[warp] = inclusive;
    __syncthreads();
    unsigned long long before = inclusive - own, total = 0;
    for (int w = 0; w < kFilterThreads / 32; ++w) {
      before += w < warp ? s.warp_totals[w] : 0;
      total += s.warp_totals[w];
    }
    if (threadIdx.x == 0) {
      if (first)
        s.target =
            relative > 0.0f ? static_cast<unsigned long long>(ceil(static_cast<double>(relative) * total)) : target;
      s.boundary = -1;
      s.count = 0;
      s.lowest = 0xffffffffu;
      s.highest = 0;
    }
    __syncthreads();
    const unsigned long long above = s.above, goal = s.target;
#pragma unroll
    for (int k = 0; k < kPerThread; ++k) {
      const unsigned long long bin = s.bins[threadIdx.x * kPerThread + k];
      if (above + before < goal && above + before + bin >= goal) s.boundary = threadIdx.x * kPerThread + k;
      before += bin;
    }
    __syncthreads();
    const int boundary = s.boundary;
    if (boundary < 0) return -INFINITY;  // the target is more than every counted token together
    for_each_logit(row, vocab, [&](std::int64_t, float x) {
      if (x < lo || x > hi || bin_of(x, lo, hi, scale) != boundary || !measure(x)) return;
      const unsigned slot = atomicAdd(&s.count, 1u);
      if (slot < kCandidates) s.candidates[slot] = x;
      atomicMin(&s.lowest, ordered(x));
      atomicMax(&s.highest, ordered(x));
    });
    // The measure above the boundary bin: bins before it.
    if (threadIdx.x == 0) {
      unsigned long long sum = 0;
      for (int b = 0; b < boundary; ++b) sum += s.bins[b];
      s.above = above + sum;
    }
    __syncthreads();
    if (s.count > kCandidates) {
      lo = unordered(s.lowest);
      hi = unordered(s.highest);
      __syncthreads();  // everyone has read the bin before the next round clears it
      continue;
    }
    // Rank the candidates: the value at which the measure, from the top, first reaches the target.
    const unsigned n = s.count;
    for (unsigned j = threadIdx.x; j < n; j += kFilterThreads) s.measures[j] = measure(s.candidates[j]);
    __syncthreads();
    const unsigned long long base = s.above;
    for (unsigned j = threadIdx.x; j < n; j += kFilterThreads) {
      const float x = s.candidates[j];
      unsigned long long greater = 0, equal = 0;
      for (unsigned l = 0; l < n; ++l) {
        greater += s.candidates[l] > x ? s.measures[l] : 0;
        equal += s.candidates[l] == x ? s.measures[l] : 0;
      }
      if (base + greater < goal && base + greater + equal >= goal) s.threshold = x;  // ties write the same value
    }
    __syncthreads();
    const float threshold = s.threshold;
    __syncthreads();
    return threshold;
  }
}

// blockIdx.x: the row. The row's largest and lowest finite logits, then top_k's threshold, then top_p's
// over what top_k and min_p keep, then the draw above both.
__global__ void __launch_bounds__(kFilterThreads)
    filtered_kernel(const float* logits, std::int64_t vocab, const SampleRequest* requests, SampleResult* results) {
  const SampleRequest request = requests[blockIdx.x];
  if (!filters(request, vocab)) return;
  const float* row = logits + static_cast<std::int64_t>(request.row) * vocab;
  __shared__ Selection selection;

  float own_max = -INFINITY, own_min = FLT_MAX;
  for_each_logit(row, vocab, [&](std::int64_t, float x) {
    if (x == -INFINITY) return;
    own_min = fminf(own_min, x);
    own_max = fmaxf(own_max, x);
  });
  const float max_logit = block_max(own_max);
  const float lowest = -block_max(-own_min);
  if (max_logit == -INFINITY) {  // every logit -inf or NaN: nothing to draw from
    if (threadIdx.x == 0) results[blockIdx.x] = {0};
    return;
  }

  // The kept tokens are those at `floor` or above: min_p's floor, raised by top_k's and top_p's.
  const float inverse_temperature = 1.0f / request.temperature;
  float floor = min_p_floor(max_logit, request.temperature, request.min_p);
  if (request.top_k > 0 && request.top_k < vocab) {
    // The k-th largest of the threads' maxima is at most the k-th largest logit: the histograms need
    // only the range above it (and above min_p's floor, below which top_k's cut would not matter).
    const float bound = request.top_k <= kFilterThreads ? kth_largest_of_block(own_max, request.top_k, selection.candidates)
                                                        : -INFINITY;
    floor = fmaxf(floor, select_threshold(row, vocab, fmaxf(fmaxf(lowest, bound), floor), max_logit, CountFinite{},
                                          static_cast<unsigned long long>(request.top_k), 0.0f, selection));
  }
  if (request.top_p < 1.0f)
    floor = fmaxf(floor, select_threshold(row, vocab, fmaxf(floor, lowest), max_logit,
                                          KeptWeight{max_logit, inverse_temperature, floor}, 0ull, request.top_p, selection));

  Best best{-FLT_MAX, 0x7fffffff};
  const NoiseKey key = noise_key(request.seed);
  for_each_logit(row, vocab, [&](std::int64_t i, float x) {
    if (!(x >= floor)) return;
    const float score = x * inverse_temperature + gumbel(key, i);
    best = better(best, {score, static_cast<std::int32_t>(i)});
  });
  best = block_best(best);
  if (threadIdx.x == 0) results[blockIdx.x] = {best.token < vocab ? best.token : 0};
}

std::int64_t slices_of(std::int64_t vocab) { return (vocab + kSliceElements - 1) / kSliceElements; }

}  // namespace

// Each row's counter and slices (zeroed once, when the workspace is allocated).
std::size_t sample_workspace_bytes(std::int64_t rows, std::int64_t vocab) {
  return static_cast<std::size_t>(rows) * row_workspace_bytes(slices_of(vocab));
}

void sample_rows(float* logits, std::int64_t vocab, const SampleRequest* requests, std::int64_t count,
                 const SampleAdjustment* adjustments, const SampleResult* previous, bool adjusted, bool filtered,
                 SampleResult* results, void* workspace, cudaStream_t stream) {
  if (count == 0) return;
  const auto rows = static_cast<unsigned>(count);
  if (adjusted) {
    adjust_kernel<<<rows, kThreads, 0, stream>>>(logits, vocab, requests, adjustments, previous);
    check_launch("sample_rows (adjustments)");
  }
  sample_kernel<<<dim3(rows, static_cast<unsigned>(slices_of(vocab))), kThreads, 0, stream>>>(
      logits, vocab, requests, static_cast<unsigned char*>(workspace), results);
  check_launch("sample_rows");
  if (filtered) {
    filtered_kernel<<<rows, kFilterThreads, 0, stream>>>(logits, vocab, requests, results);
    check_launch("sample_rows (filtered)");
  }
}

}  // namespace llmctl::kernels
