#include "backend/cpu/cpu_backend.hpp"

#include "common/error.hpp"
#include "common/splitmix.hpp"

#include <cfloat>
#include <cmath>
#include <limits>

namespace llmctl::engine {
namespace {

// The noise of kernels/sampling.cu: in [2^-24, 1 - 2^-24], so that -log(-log(u)) is finite.
float uniform(std::uint64_t seed, std::uint64_t index) {
  const std::uint64_t x = splitmix64(seed ^ (index * kSplitmixGamma));
  return (static_cast<float>(x >> 41) + 0.5f) * 0x1.0p-23f;
}

}  // namespace

Backend::DeviceSampled cpu_draw(std::span<const float> logits, float temperature, std::uint64_t seed) {
  const bool greedy = temperature <= 0.0f;
  const float inverse_temperature = greedy ? 1.0f : 1.0f / temperature;
  float max_logit = -FLT_MAX, best_score = -FLT_MAX;
  std::int32_t best = std::numeric_limits<std::int32_t>::max();  // none: every logit -inf or NaN
  for (std::size_t i = 0; i < logits.size(); ++i) {
    max_logit = std::fmax(max_logit, logits[i]);
    const float score = greedy ? logits[i] : logits[i] * inverse_temperature - std::log(-std::log(uniform(seed, i)));
    if (score > best_score) {  // the first of equal scores wins, as on the GPU
      best_score = score;
      best = static_cast<std::int32_t>(i);
    }
  }
  double sum = 0.0;
  for (const float logit : logits) sum += std::exp(static_cast<double>(logit - max_logit));
  const std::int32_t token = static_cast<std::size_t>(best) < logits.size() ? best : 0;
  return {token, logits[static_cast<std::size_t>(token)] - max_logit - static_cast<float>(std::log(sum))};
}

void CpuBackend::start_sampling(const Tensor& logits, std::span<const DeviceSample> rows) {
  if (draws_started_ - draws_finished_ == 2) throw Error("internal: a third draw started before the first finished");
  auto& results = draws_[draws_started_++ % 2];
  results.resize(rows.size());
  const auto vocab = static_cast<std::size_t>(logits.cols);
#pragma omp parallel for schedule(dynamic)
  for (std::size_t k = 0; k < rows.size(); ++k)
    results[k] = cpu_draw({logits.as<const float>() + static_cast<std::size_t>(rows[k].row) * vocab, vocab},
                          rows[k].temperature, rows[k].seed);
}

std::span<const Backend::DeviceSampled> CpuBackend::finish_sampling() {
  if (draws_finished_ == draws_started_) throw Error("internal: finish_sampling() without a draw outstanding");
  return draws_[draws_finished_++ % 2];
}

}  // namespace llmctl::engine
