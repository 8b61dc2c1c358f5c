#include "backend/cpu/cpu_backend.hpp"

#include "common/error.hpp"

#include <doctest/doctest.h>

#include <cmath>
#include <limits>
#include <vector>

using namespace llmctl::engine;

namespace {

double log_softmax(const std::vector<float>& logits, std::size_t i) {
  double max = logits[0], sum = 0.0;
  for (const float x : logits) max = std::max<double>(max, x);
  for (const float x : logits) sum += std::exp(x - max);
  return logits[i] - max - std::log(sum);
}

}  // namespace

TEST_CASE("greedy draws take the first maximum, with its logprob under the raw logits") {
  const std::vector<float> logits = {0.5f, 3.0f, -1.0f, 3.0f, 2.0f};
  const auto drawn = cpu_draw(logits, 0.0f, 0);
  CHECK(drawn.token == 1);
  CHECK(drawn.logprob == doctest::Approx(log_softmax(logits, 1)).epsilon(1e-6));
  // No finite logit at all: token 0, as the GPU kernel answers.
  const std::vector<float> none(4, -std::numeric_limits<float>::infinity());
  CHECK(cpu_draw(none, 1.0f, 3).token == 0);
}

TEST_CASE("draws follow softmax(logits / temperature), repeat for a seed and vary across seeds") {
  const std::vector<float> logits = {0.0f, 1.0f, 2.0f, -40.0f};
  for (const float temperature : {1.0f, 0.5f}) {
    INFO("temperature " << temperature);
    constexpr int kDraws = 20000;
    std::vector<int> counts(logits.size(), 0);
    for (std::uint64_t seed = 0; seed < kDraws; ++seed) {
      const auto drawn = cpu_draw(logits, temperature, seed);
      ++counts[static_cast<std::size_t>(drawn.token)];
      CHECK(drawn.logprob == doctest::Approx(log_softmax(logits, static_cast<std::size_t>(drawn.token))).epsilon(1e-6));
      CHECK(cpu_draw(logits, temperature, seed).token == drawn.token);
    }
    std::vector<float> scaled;
    for (const float x : logits) scaled.push_back(x / temperature);
    for (std::size_t i = 0; i < logits.size(); ++i) {
      const double p = std::exp(log_softmax(scaled, i));
      const double sigma = std::sqrt(kDraws * p * (1 - p));
      CHECK(std::abs(counts[i] - kDraws * p) <= 5 * sigma + 1);  // the -40 token: never
    }
  }
}

TEST_CASE("the CPU backend's draws: finished in the order started, at most two outstanding") {
  CpuBackend backend;
  const Tensor logits = backend.allocate(DType::f32, 2, 3);
  logits.as<float>()[1] = 5.0f;  // row 0: token 1
  logits.as<float>()[5] = 5.0f;  // row 1: token 2
  CHECK_THROWS_WITH_AS(backend.finish_sampling(), "internal: finish_sampling() without a draw outstanding", llmctl::Error);
  const std::vector<Backend::DeviceSample> first = {{0, 0.0f, 0}}, second = {{1, 0.0f, 0}, {0, 0.0f, 0}};
  backend.start_sampling(logits, first);
  backend.start_sampling(logits, second);
  CHECK_THROWS_WITH_AS(backend.start_sampling(logits, first), "internal: a third draw started before the first finished",
                       llmctl::Error);
  const auto a = backend.finish_sampling();
  REQUIRE(a.size() == 1);
  CHECK(a[0].token == 1);
  const auto b = backend.finish_sampling();
  REQUIRE(b.size() == 2);
  CHECK(b[0].token == 2);
  CHECK(b[1].token == 1);
  CHECK_THROWS_AS(backend.finish_sampling(), llmctl::Error);
}
