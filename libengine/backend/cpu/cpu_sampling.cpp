#include "backend/cpu/cpu_backend.hpp"

#include "common/error.hpp"
#include "common/splitmix.hpp"
#include "runtime/sampler.hpp"

#include <algorithm>
#include <cfloat>
#include <cmath>
#include <functional>
#include <limits>
#include <vector>

namespace llmctl::engine {
namespace {

constexpr float kInfinity = std::numeric_limits<float>::infinity();
constexpr std::uint32_t kCountMask = Backend::kBanned - 1;
constexpr float kMassScale = 0x1.0p40f;  // top_p's fixed-point weights, as the kernel sums them

// The Gumbel noise of kernels/sampling.cu (noise_key and gumbel there): the row's key, mixed from its
// seed once a draw, then token `index`'s noise.
struct NoiseKey {
  std::uint32_t low, high;
};
NoiseKey noise_key(std::uint64_t seed) {
  const std::uint64_t key = splitmix64(seed);
  return {static_cast<std::uint32_t>(key), static_cast<std::uint32_t>(key >> 32)};
}
float gumbel(NoiseKey key, std::size_t index) {
  const std::uint32_t x = mix32(mix32(static_cast<std::uint32_t>(index) ^ key.low) ^ key.high);
  const float u = (static_cast<float>(x >> 9) + 0.5f) * 0x1.0p-23f;
  return -std::log(-std::log(u));
}

float adjusted(float logit, std::uint32_t flags, std::uint32_t count, const Backend::DeviceSample& request) {
  if (flags & Backend::kBanned) return -kInfinity;
  return penalized_logit(logit, (flags & Backend::kInPrompt) != 0, count, request.repetition_penalty,
                         request.frequency_penalty, request.presence_penalty);
}

// The largest value v such that the measures of the values at v or above reach `target`; -inf when they
// cannot (select_threshold of the kernel). `values`: (value, measure), measures nonzero.
float threshold(std::vector<std::pair<float, std::uint64_t>>& values, std::uint64_t target) {
  if (target == 0) return -kInfinity;
  std::sort(values.begin(), values.end(), std::greater<>());
  std::uint64_t cumulative = 0;
  for (const auto& [value, measure] : values)
    if ((cumulative += measure) >= target) return value;
  return -kInfinity;
}

Backend::DeviceSampled filtered_draw(std::span<const float> logits, const Backend::DeviceSample& request) {
  const std::size_t vocab = logits.size();
  float max_logit = -kInfinity;
  for (const float x : logits) max_logit = std::max(max_logit, readable_logit(x));
  if (max_logit == -kInfinity) return {0};
  const float inverse_temperature = 1.0f / request.temperature;
  // min_p as a logit, weights below e^-87 counting as none (min_p_floor of the kernel).
  const float log_min_p = request.min_p > 0.0f ? std::max(std::log(request.min_p), -87.0f) : -87.0f;
  float floor = max_logit + request.temperature * log_min_p;

  std::vector<std::pair<float, std::uint64_t>> counted;
  if (request.top_k > 0 && request.top_k < static_cast<std::int64_t>(vocab)) {
    for (const float x : logits)
      if (readable_logit(x) > -kInfinity) counted.emplace_back(readable_logit(x), 1);
    floor = std::max(floor, threshold(counted, static_cast<std::uint64_t>(request.top_k)));
  }
  if (request.top_p < 1.0f) {
    counted.clear();
    std::uint64_t total = 0;
    for (const float x : logits) {
      const float c = readable_logit(x);
      if (!(c >= floor)) continue;
      if (const auto measure = static_cast<std::uint64_t>(std::exp((c - max_logit) * inverse_temperature) * kMassScale)) {
        counted.emplace_back(c, measure);
        total += measure;
      }
    }
    const auto target =
        static_cast<std::uint64_t>(std::ceil(static_cast<double>(request.top_p) * static_cast<double>(total)));
    floor = std::max(floor, threshold(counted, target));
  }

  const NoiseKey key = noise_key(request.seed);
  float best_score = -FLT_MAX;
  std::int32_t best = std::numeric_limits<std::int32_t>::max();
  for (std::size_t i = 0; i < vocab; ++i) {
    const float x = readable_logit(logits[i]);
    if (!(x >= floor)) continue;
    const float score = x * inverse_temperature + gumbel(key, i);
    if (score > best_score) {  // the first of equal scores wins, as on the GPU
      best_score = score;
      best = static_cast<std::int32_t>(i);
    }
  }
  return {static_cast<std::size_t>(best) < vocab ? best : 0};
}

}  // namespace

void cpu_adjust(std::span<float> logits, const Backend::DeviceSample& request,
                std::span<const Backend::SampleAdjustment> adjustments, std::int32_t pending) {
  const auto in_vocab = [&](std::int32_t token) {
    return token >= 0 && static_cast<std::size_t>(token) < logits.size();
  };
  bool pending_listed = false;
  for (const auto& adjustment : adjustments) {
    if (!in_vocab(adjustment.token)) continue;
    std::uint32_t count = adjustment.flags & kCountMask;
    if (adjustment.token == pending) {
      ++count;
      pending_listed = true;
    }
    float& logit = logits[static_cast<std::size_t>(adjustment.token)];
    logit = adjusted(logit, adjustment.flags, count, request);
  }
  if (in_vocab(pending) && !pending_listed) {
    float& logit = logits[static_cast<std::size_t>(pending)];
    logit = adjusted(logit, 0, 1, request);
  }
}

Backend::DeviceSampled cpu_draw(std::span<const float> logits, const Backend::DeviceSample& request) {
  if (request.filtered(static_cast<std::int64_t>(logits.size()))) return filtered_draw(logits, request);
  const bool greedy = request.temperature <= 0.0f;
  const float inverse_temperature = greedy ? 1.0f : 1.0f / request.temperature;
  const NoiseKey key = noise_key(request.seed);
  float best_score = -FLT_MAX;
  std::int32_t best = std::numeric_limits<std::int32_t>::max();  // none: every logit -inf or NaN
  for (std::size_t i = 0; i < logits.size(); ++i) {
    const float score = greedy ? logits[i] : logits[i] * inverse_temperature + gumbel(key, i);
    if (score > best_score) {  // the first of equal scores wins, as on the GPU
      best_score = score;
      best = static_cast<std::int32_t>(i);
    }
  }
  return {static_cast<std::size_t>(best) < logits.size() ? best : 0};
}

void CpuBackend::start_sampling(const Tensor& logits, std::span<const DeviceSample> rows,
                                std::span<const SampleAdjustment> adjustments) {
  if (draws_started_ - draws_finished_ == 2) throw Error("internal: a third draw started before the first finished");
  const auto& previous = draws_[(draws_started_ + 1) % 2];  // the latest draw's, which pending rows name
  auto& results = draws_[draws_started_++ % 2];
  results.resize(rows.size());
  const auto vocab = static_cast<std::size_t>(logits.cols);
#pragma omp parallel for schedule(dynamic)
  for (std::size_t k = 0; k < rows.size(); ++k) {
    const DeviceSample& request = rows[k];
    const std::span<float> row(logits.as<float>() + static_cast<std::size_t>(request.row) * vocab, vocab);
    const std::int32_t pending = request.pending >= 0 ? previous[static_cast<std::size_t>(request.pending)].token : -1;
    cpu_adjust(row, request,
               adjustments.subspan(static_cast<std::size_t>(request.adjustments_begin),
                                   static_cast<std::size_t>(request.adjustments_count)),
               pending);
    results[k] = cpu_draw(row, request);
  }
}

std::span<const Backend::DeviceSampled> CpuBackend::finish_sampling() {
  if (draws_finished_ == draws_started_) throw Error("internal: finish_sampling() without a draw outstanding");
  return draws_[draws_finished_++ % 2];
}

}  // namespace llmctl::engine
