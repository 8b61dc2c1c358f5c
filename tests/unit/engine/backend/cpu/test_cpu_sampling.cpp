#include "backend/cpu/cpu_backend.hpp"
#include "runtime/sampler.hpp"

#include "common/error.hpp"

#include <doctest/doctest.h>

#include <cmath>
#include <limits>
#include <random>
#include <set>
#include <vector>

using namespace llmctl::engine;

namespace {

double log_softmax(const std::vector<float>& logits, std::size_t i) {
  double max = logits[0], sum = 0.0;
  for (const float x : logits) max = std::max<double>(max, x);
  for (const float x : logits) sum += std::exp(x - max);
  return logits[i] - max - std::log(sum);
}

// The distribution of a row's draws over `draws` seeds, checked against the host sampler's
// sampling_distribution (the same masks): every drawn token inside its support, each frequency within 5
// standard deviations.
void check_draws_follow(const std::vector<float>& logits, const Backend::DeviceSample& request, const SamplingParams& params,
                        int draws) {
  const auto expected = sampling_distribution(logits, params);
  REQUIRE(expected.size() == logits.size());
  std::vector<int> counts(logits.size(), 0);
  for (int seed = 0; seed < draws; ++seed) {
    auto row = request;
    row.seed = 0x9e3779b97f4a7c15ull * static_cast<std::uint64_t>(seed + 1);
    ++counts[static_cast<std::size_t>(cpu_draw(logits, row).token)];
  }
  for (std::size_t i = 0; i < logits.size(); ++i) {
    INFO("token " << i << " expected p " << expected[i]);
    if (expected[i] == 0.0) {
      CHECK(counts[i] == 0);
      continue;
    }
    const double sigma = std::sqrt(draws * expected[i] * (1 - expected[i]));
    CHECK(std::abs(counts[i] - draws * expected[i]) <= 5 * sigma + 1);
  }
}

}  // namespace

TEST_CASE("greedy draws take the first maximum") {
  const std::vector<float> logits = {0.5f, 3.0f, -1.0f, 3.0f, 2.0f};
  const auto drawn = cpu_draw(logits, {0, 0.0f, 0});
  CHECK(drawn.token == 1);
  // No finite logit at all: token 0, as the GPU kernel answers.
  const std::vector<float> none(4, -std::numeric_limits<float>::infinity());
  CHECK(cpu_draw(none, {0, 1.0f, 3}).token == 0);
}

TEST_CASE("draws follow softmax(logits / temperature), repeat for a seed and vary across seeds") {
  const std::vector<float> logits = {0.0f, 1.0f, 2.0f, -40.0f};
  for (const float temperature : {1.0f, 0.5f}) {
    INFO("temperature " << temperature);
    constexpr int kDraws = 20000;
    std::vector<int> counts(logits.size(), 0);
    for (std::uint64_t seed = 0; seed < kDraws; ++seed) {
      const auto drawn = cpu_draw(logits, {0, temperature, seed});
      ++counts[static_cast<std::size_t>(drawn.token)];
      CHECK(cpu_draw(logits, {0, temperature, seed}).token == drawn.token);
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
  backend.start_sampling(logits, first, {});
  backend.start_sampling(logits, second, {});
  CHECK_THROWS_WITH_AS(backend.start_sampling(logits, first, {}), "internal: a third draw started before the first finished",
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

TEST_CASE("filtered draws follow the host sampler's min_p, top_k and top_p, ties kept by value") {
  // Distinct logits over 12 tokens, so each mask's cut is clear; then ties at the cut.
  std::vector<float> logits;
  for (int i = 0; i < 12; ++i) logits.push_back(static_cast<float>((i * 7) % 12) * 0.35f - 1.0f);
  struct Case {
    float temperature;
    int top_k;
    float top_p, min_p;
  };
  for (const Case c : {Case{1.0f, 3, 1.0f, 0.0f}, Case{0.7f, 0, 0.8f, 0.0f}, Case{1.3f, 0, 1.0f, 0.2f},
                       Case{1.0f, 5, 0.6f, 0.0f}, Case{0.9f, 6, 0.9f, 0.1f}, Case{1.0f, 20, 0.5f, 0.0f}}) {
    CAPTURE(c.temperature);
    CAPTURE(c.top_k);
    CAPTURE(c.top_p);
    CAPTURE(c.min_p);
    Backend::DeviceSample request{0, c.temperature, 0};
    request.top_k = c.top_k;
    request.top_p = c.top_p;
    request.min_p = c.min_p;
    REQUIRE(request.filtered(static_cast<std::int64_t>(logits.size())) == (c.top_k < 12 || c.top_p < 1.0f || c.min_p > 0.0f));
    SamplingParams params;
    params.temperature = c.temperature;
    params.top_k = c.top_k;
    params.top_p = c.top_p;
    params.min_p = c.min_p;
    check_draws_follow(logits, request, params, 20000);
  }
  // top_p reaches 0.5 within a tie of four: all four stay, on both samplers.
  const std::vector<float> tied = {2.0f, 1.0f, 1.0f, 1.0f, 1.0f, 0.0f};
  Backend::DeviceSample request{0, 1.0f, 0};
  request.top_p = 0.5f;
  SamplingParams params;
  params.top_p = 0.5;
  const auto distribution = sampling_distribution(tied, params);
  CHECK(std::count_if(distribution.begin(), distribution.end(), [](double p) { return p > 0.0; }) == 5);
  check_draws_follow(tied, request, params, 20000);
  // So does top_k = 2 with a tie at the second place.
  request = {0, 1.0f, 0};
  request.top_k = 2;
  params = {};
  params.top_k = 2;
  check_draws_follow(tied, request, params, 20000);
}

TEST_CASE("filtered draws on a 152k vocabulary keep what a full sort keeps, and NaN or inf do not break them") {
  std::vector<float> logits(152064);
  std::mt19937 fill(11);
  std::normal_distribution<float> normal(0.0f, 3.0f);
  for (auto& x : logits) x = normal(fill);
  Backend::DeviceSample request{0, 0.8f, 0};
  request.top_k = 50;
  request.top_p = 0.9f;
  std::vector<float> sorted = logits;
  std::sort(sorted.begin(), sorted.end(), std::greater<>());
  std::set<std::int32_t> drawn;
  for (std::uint64_t seed = 1; seed <= 2000; ++seed) {
    request.seed = seed;
    const auto token = cpu_draw(logits, request).token;
    CHECK(logits[static_cast<std::size_t>(token)] >= sorted[49]);
    drawn.insert(token);
  }
  CHECK(drawn.size() > 5);  // a draw, not an argmax
  logits[3] = std::numeric_limits<float>::quiet_NaN();
  logits[4] = std::numeric_limits<float>::infinity();
  for (std::uint64_t seed = 1; seed <= 20; ++seed) {
    request.seed = seed;
    CHECK(cpu_draw(logits, request).token == 4);  // +inf is the largest float, far ahead of the rest
  }
}

TEST_CASE("adjustments ban and penalize as the host sampler does, the pending token counted once more") {
  std::vector<float> logits(64);
  std::mt19937 fill(5);
  std::normal_distribution<float> normal(0.0f, 2.0f);
  for (auto& x : logits) x = normal(fill);
  SamplingParams params;
  params.repetition_penalty = 1.3;
  params.frequency_penalty = 0.4;
  params.presence_penalty = 0.25;
  const std::vector<TokenId> prompt = {1, 2, 3, 2, 9};
  const std::vector<TokenId> known_output = {3, 7, 7, 11};
  const std::vector<TokenId> banned = {60, 7};
  for (const std::int32_t pending : {11, 3, 7, 12, -1}) {  // listed, in the prompt too, banned, new, none
    CAPTURE(pending);
    // The host's view: every output token known.
    std::vector<TokenId> output = known_output;
    if (pending >= 0) output.push_back(pending);
    SamplingRng rng(0);
    std::vector<float> expected = logits;
    apply_bans_and_penalties(expected, SamplingContext{params, prompt, output, banned, rng});
    // The backend's: the distinct known tokens as the engine lists them, the pending one apart.
    const std::vector<Backend::SampleAdjustment> adjustments = {
        {1, Backend::kInPrompt}, {2, Backend::kInPrompt}, {3, Backend::kInPrompt | 1}, {9, Backend::kInPrompt},
        {7, 2 | Backend::kBanned}, {11, 1}, {60, Backend::kBanned}};
    Backend::DeviceSample request{0, 1.0f, 0};
    request.repetition_penalty = 1.3f;
    request.frequency_penalty = 0.4f;
    request.presence_penalty = 0.25f;
    std::vector<float> adjusted = logits;
    cpu_adjust(adjusted, request, adjustments, pending);
    for (std::size_t i = 0; i < logits.size(); ++i) {
      INFO("token " << i);
      CHECK(adjusted[i] == expected[i]);
    }
  }
}

TEST_CASE("the CPU backend penalizes a pending token with the latest draw's result") {
  CpuBackend backend;
  const Tensor logits = backend.allocate(DType::f32, 1, 4);
  float* row = logits.as<float>();
  row[0] = 1.0f;
  row[2] = 2.0f;
  // Draw 1: greedy, token 2.
  backend.start_sampling(logits, std::vector<Backend::DeviceSample>{{0, 0.0f, 0}}, {});
  REQUIRE(backend.finish_sampling()[0].token == 2);
  // Draw 2 names draw 1's row 0 as pending: token 2 loses 1.5 and token 0 wins.
  Backend::DeviceSample penalized{0, 0.0f, 0};
  penalized.presence_penalty = 1.5f;
  penalized.pending = 0;
  backend.start_sampling(logits, std::vector<Backend::DeviceSample>{penalized}, {});
  CHECK(backend.finish_sampling()[0].token == 0);
  CHECK(row[2] == 0.5f);  // in place
}
