#include "runtime/sampler.hpp"

#include <doctest/doctest.h>

#include <algorithm>
#include <cmath>
#include <cstdint>
#include <limits>
#include <numeric>
#include <random>
#include <set>
#include <thread>
#include <utility>
#include <vector>

using namespace llmctl::engine;

namespace {

constexpr float kNegInf = -std::numeric_limits<float>::infinity();

// One sequence's inputs, owned, so a test can build a SamplingContext in one line.
struct Sequence {
  explicit Sequence(SamplingParams sampling = {}) : params(std::move(sampling)) {}

  SamplingParams params;
  std::vector<TokenId> prompt;
  std::vector<TokenId> output;
  std::vector<TokenId> banned;
  SamplingRng rng{0};

  SampledToken sample(std::vector<float> logits) {
    const SamplingContext context{params, prompt, output, banned, rng};
    return sample_token(logits, context);
  }
  std::vector<float> penalized(std::vector<float> logits) {
    const SamplingContext context{params, prompt, output, banned, rng};
    apply_bans_and_penalties(logits, context);
    return logits;
  }
};

SamplingParams greedy_params() {
  SamplingParams params;
  params.temperature = 0.0;
  return params;
}

// log_softmax in long double, the reference for the sampler's raw logprobs.
std::vector<double> log_softmax(const std::vector<float>& logits) {
  long double top = *std::max_element(logits.begin(), logits.end());
  long double sum = 0;
  for (const float x : logits) sum += std::exp(static_cast<long double>(x) - top);
  std::vector<double> out;
  for (const float x : logits) out.push_back(static_cast<double>(static_cast<long double>(x) - top - std::log(sum)));
  return out;
}

// softmax(logits / temperature) over `kept` only, 0 elsewhere: the distribution a masked sampler must draw from.
std::vector<double> renormalized(const std::vector<float>& logits, double temperature, const std::set<TokenId>& kept) {
  std::vector<double> p(logits.size(), 0.0);
  double sum = 0;
  for (const TokenId t : kept) sum += p[t] = std::exp(logits[t] / temperature);
  for (double& v : p) v /= sum;
  return p;
}

std::set<TokenId> support(const std::vector<double>& distribution) {
  std::set<TokenId> out;
  for (std::size_t i = 0; i < distribution.size(); ++i)
    if (distribution[i] > 0) out.insert(static_cast<TokenId>(i));
  return out;
}

// Pearson's statistic of `draws` samples against `expected` (cells with probability 0 must stay empty).
double chi_square(const std::vector<double>& expected, const std::vector<std::int64_t>& counts, std::int64_t draws) {
  double chi2 = 0;
  for (std::size_t i = 0; i < expected.size(); ++i) {
    if (expected[i] == 0) continue;
    const double e = expected[i] * static_cast<double>(draws);
    REQUIRE(e >= 5);  // the approximation needs populated cells
    chi2 += (static_cast<double>(counts[i]) - e) * (static_cast<double>(counts[i]) - e) / e;
  }
  return chi2;
}

// The chi-square distribution's upper 0.1% points (p = 0.001) by degrees of freedom, from the standard
// tables (e.g. NIST/SEMATECH e-Handbook 1.3.6.7.4). A correct sampler fails a check at a given seed with
// probability 0.001; the seeds are fixed, so a pass is a pass for good.
double critical_value_p001(std::size_t degrees_of_freedom) {
  static const double table[] = {0, 10.828, 13.816, 16.266, 18.467, 20.515, 22.458, 24.322, 26.124, 27.877};
  REQUIRE(degrees_of_freedom >= 1);
  REQUIRE(degrees_of_freedom < std::size(table));
  return table[degrees_of_freedom];
}

// Draws `draws` tokens and checks their counts against `expected` at p = 0.001; masked tokens never appear.
void check_goodness_of_fit(Sequence& sequence, const std::vector<float>& logits, const std::vector<double>& expected,
                           std::int64_t draws) {
  std::vector<std::int64_t> counts(logits.size(), 0);
  for (std::int64_t i = 0; i < draws; ++i) ++counts[sequence.sample(logits).token];
  for (std::size_t i = 0; i < expected.size(); ++i)
    if (expected[i] == 0) CHECK_MESSAGE(counts[i] == 0, "masked token ", i, " was drawn");
  const auto cells = support(expected).size();
  const double chi2 = chi_square(expected, counts, draws);
  INFO("chi2 = ", chi2, " with ", cells - 1, " degrees of freedom");
  CHECK(chi2 < critical_value_p001(cells - 1));
}

void check_distribution(const std::vector<double>& actual, const std::vector<double>& expected) {
  REQUIRE(actual.size() == expected.size());
  for (std::size_t i = 0; i < expected.size(); ++i) CHECK(actual[i] == doctest::Approx(expected[i]).epsilon(1e-6));
}

// Logits of the chi-square tests: softmax at temperature 0.7 is, by token,
// 0.11782 0.05768 0.02824 0.01382 0.49165 0.00677 0.04334 0.24068.
const std::vector<float> kSkewed = {1.0f, 0.5f, 0.0f, -0.5f, 2.0f, -1.0f, 0.3f, 1.5f};

}  // namespace

TEST_CASE("greedy takes the argmax, the lowest id among equals, and no randomness") {
  Sequence s{greedy_params()};
  s.rng.seed(7);
  SamplingRng untouched(7);
  CHECK(s.sample({0.1f, 3.0f, -2.0f, 2.5f}).token == 1);
  CHECK(s.sample({1.0f, 3.0f, 3.0f, 2.0f}).token == 1);
  CHECK(s.sample({5.0f, 5.0f}).token == 0);
  CHECK(s.rng() == untouched());
  // Greedy ignores the random-only knobs.
  s.params.top_k = 1;
  s.params.top_p = 0.1;
  s.params.min_p = 1.0;
  CHECK(s.sample({1.0f, 3.0f, 3.0f, 2.0f}).token == 1);
}

TEST_CASE("logprob and rank come from the raw logits") {
  // exp(logits) = 1, 2, 3, 4: the probabilities are 0.1 ... 0.4.
  const std::vector<float> logits = {0.0f, std::log(2.0f), std::log(3.0f), std::log(4.0f)};
  Sequence s{greedy_params()};
  // Not asked for, they are not computed (each would cost a pass over the vocabulary).
  auto sampled = s.sample(logits);
  CHECK(sampled.token == 3);
  CHECK(sampled.logprob == 0.0f);
  CHECK(sampled.rank == 0);
  // logprobs = 0: the sampled token's own, and no others.
  s.params.logprobs = 0;
  sampled = s.sample(logits);
  CHECK(sampled.token == 3);
  CHECK(sampled.logprob == doctest::Approx(std::log(0.4)).epsilon(1e-6));
  CHECK(sampled.rank == 1);
  CHECK(sampled.top_logprobs.empty());

  // A banned best token: the logprob of the next one is still its raw one, not renormalized.
  s.banned = {3};
  sampled = s.sample(logits);
  CHECK(sampled.token == 2);
  CHECK(sampled.logprob == doctest::Approx(std::log(0.3)).epsilon(1e-6));
  CHECK(sampled.rank == 2);

  // Penalties do not change what is reported either.
  s.banned.clear();
  s.output = {3};
  s.params.presence_penalty = 2.0;
  sampled = s.sample(logits);
  CHECK(sampled.token == 2);
  CHECK(sampled.logprob == doctest::Approx(std::log(0.3)).epsilon(1e-6));

  // Against a long-double log_softmax, with large and tied logits.
  const std::vector<float> wide = {12.5f, -30.0f, 40.25f, 40.25f, 0.0f, -1e4f};
  const auto reference = log_softmax(wide);
  Sequence w{greedy_params()};
  w.params.logprobs = 6;
  sampled = w.sample(wide);
  CHECK(sampled.token == 2);
  CHECK(sampled.rank == 1);
  REQUIRE(sampled.top_logprobs.size() == 6);
  const std::vector<TokenId> order = {2, 3, 0, 4, 1, 5};
  for (std::size_t i = 0; i < order.size(); ++i) {
    CHECK(sampled.top_logprobs[i].token == order[i]);
    CHECK(std::abs(sampled.top_logprobs[i].logprob - reference[order[i]]) < 1e-6 * std::max(1.0, -reference[order[i]]));
  }
  // Tied with a lower id, token 3 ranks second.
  w.banned = {2};
  sampled = w.sample(wide);
  CHECK(sampled.token == 3);
  CHECK(sampled.rank == 2);
  CHECK(std::abs(sampled.logprob - reference[3]) < 1e-6);
}

TEST_CASE("logprobs and probabilities over a large vocabulary match long-double references") {
  // 100003 entries: whole blocks of the vectorized pass plus a tail, logits spread over 60 nats.
  std::vector<float> logits(100003);
  SamplingRng fill(77);
  for (auto& x : logits) x = static_cast<float>(fill() % 60000) / 1000.0f - 40.0f;
  logits[12345] = kNegInf;
  const auto reference = log_softmax(logits);
  Sequence s{greedy_params()};
  s.params.logprobs = 20;
  const auto sampled = s.sample(logits);
  REQUIRE(sampled.top_logprobs.size() == 20);
  CHECK(std::abs(sampled.logprob - reference[sampled.token]) < 1e-6);
  for (const auto& entry : sampled.top_logprobs) CHECK(std::abs(entry.logprob - reference[entry.token]) < 1e-6);

  SamplingParams params;
  params.temperature = 0.7;
  const auto distribution = sampling_distribution(logits, params);
  long double top = *std::max_element(logits.begin(), logits.end()), sum = 0;
  for (const float x : logits) sum += std::exp((static_cast<long double>(x) - top) / 0.7L);
  double worst = 0;
  for (std::size_t i = 0; i < logits.size(); ++i) {
    const auto expected = static_cast<double>(std::exp((static_cast<long double>(logits[i]) - top) / 0.7L) / sum);
    if (expected > 1e-30) worst = std::max(worst, std::abs(distribution[i] / expected - 1));
  }
  CHECK(worst < 1e-5);
  CHECK(distribution[12345] == 0.0);
}

TEST_CASE("top_logprobs: the K most likely, most likely first, ties by lower id") {
  Sequence s{greedy_params()};
  s.params.logprobs = 3;
  const std::vector<float> logits = {0.5f, 2.0f, 2.0f, -1.0f, 3.0f};
  auto sampled = s.sample(logits);
  REQUIRE(sampled.top_logprobs.size() == 3);
  CHECK(sampled.top_logprobs[0].token == 4);
  CHECK(sampled.top_logprobs[1].token == 1);
  CHECK(sampled.top_logprobs[2].token == 2);
  CHECK(sampled.top_logprobs[1].logprob == sampled.top_logprobs[2].logprob);
  CHECK(sampled.top_logprobs[0].logprob == sampled.logprob);

  s.params.logprobs = 0;
  CHECK(s.sample(logits).top_logprobs.empty());
  s.params.logprobs = 50;  // more than the vocabulary
  CHECK(s.sample(logits).top_logprobs.size() == 5);
  s.params.logprobs = -1;  // the whole vocabulary
  sampled = s.sample(logits);
  REQUIRE(sampled.top_logprobs.size() == 5);
  CHECK(sampled.top_logprobs[4].token == 3);

  // Both selection strategies (a sorted list for few, nth_element for many) against a full sort.
  std::vector<float> many(300);
  SamplingRng fill(3);
  for (auto& x : many) x = static_cast<float>(fill() % 40) / 4.0f;  // plenty of ties
  std::vector<TokenId> ids(many.size());
  std::iota(ids.begin(), ids.end(), 0);
  std::sort(ids.begin(), ids.end(),
            [&](TokenId a, TokenId b) { return many[a] > many[b] || (many[a] == many[b] && a < b); });
  for (const int k : {1, 64, 65, 299, 300}) {
    CAPTURE(k);
    s.params.logprobs = k;
    sampled = s.sample(many);
    REQUIRE(sampled.top_logprobs.size() == static_cast<std::size_t>(k));
    for (int i = 0; i < k; ++i) CHECK(sampled.top_logprobs[i].token == ids[i]);
  }
}

TEST_CASE("penalties follow vLLM's apply_penalties exactly") {
  const std::vector<float> logits = {2.0f, -1.0f, 0.5f, 3.0f, -2.0f, 1.0f};
  Sequence s;
  s.prompt = {0, 1, 1};
  s.output = {3, 3, 4, 0};

  SUBCASE("no penalties: unchanged") { CHECK(s.penalized(logits) == logits); }
  SUBCASE("repetition: prompt and output tokens, divided when positive, multiplied otherwise") {
    s.params.repetition_penalty = 2.0;
    CHECK(s.penalized(logits) == std::vector<float>{1.0f, -2.0f, 0.5f, 1.5f, -4.0f, 1.0f});
  }
  SUBCASE("frequency: output counts only") {
    s.params.frequency_penalty = 0.5;
    CHECK(s.penalized(logits) == std::vector<float>{1.5f, -1.0f, 0.5f, 2.0f, -2.5f, 1.0f});
  }
  SUBCASE("presence: once per output token") {
    s.params.presence_penalty = -0.25;
    CHECK(s.penalized(logits) == std::vector<float>{2.25f, -1.0f, 0.5f, 3.25f, -1.75f, 1.0f});
  }
  SUBCASE("all three, repetition first") {
    s.params.repetition_penalty = 2.0;
    s.params.frequency_penalty = 0.5;
    s.params.presence_penalty = 0.25;
    CHECK(s.penalized(logits) == std::vector<float>{0.25f, -2.0f, 0.5f, 0.25f, -4.75f, 1.0f});
  }
  SUBCASE("bans first; ids outside the vocabulary are ignored") {
    s.params.frequency_penalty = 0.5;
    s.banned = {5, 5, -1, 6, 1000};
    s.output.push_back(7);
    s.prompt.push_back(-3);
    CHECK(s.penalized(logits) == std::vector<float>{1.5f, -1.0f, 0.5f, 2.0f, -2.5f, kNegInf});
  }
}

TEST_CASE("penalties change greedy choices, and sample_token restores the raw logits") {
  Sequence s{greedy_params()};
  std::vector<float> logits = {2.0f, 1.9f, 0.0f};
  s.output = {0};
  CHECK(s.sample(logits).token == 0);
  s.params.frequency_penalty = 0.2;
  CHECK(s.sample(logits).token == 1);
  s.params.frequency_penalty = 0.0;
  s.params.repetition_penalty = 1.1;  // 2.0 / 1.1 < 1.9
  CHECK(s.sample(logits).token == 1);
  s.output.clear();
  s.prompt = {0, 0, 0};
  CHECK(s.sample(logits).token == 1);
  s.params.repetition_penalty = 0.5;  // < 1 favours repeats: 1.9 in the prompt now, 2.0 is not
  s.prompt = {1};
  CHECK(s.sample(logits).token == 1);

  // Bans and penalties are undone: the caller gets its raw logits back.
  s.banned = {1};
  const std::vector<float> raw = logits;
  const SamplingContext context{s.params, s.prompt, s.output, s.banned, s.rng};
  CHECK(sample_token(logits, context).token == 0);
  CHECK(logits == raw);
}

TEST_CASE("min_tokens: banned eos and stop tokens are never sampled") {
  const std::vector<float> logits = {0.0f, 1.0f, 6.0f, 5.5f};  // eos = 2, a stop token id = 3
  Sequence greedy{greedy_params()};
  greedy.banned = {2, 3};
  CHECK(greedy.sample(logits).token == 1);

  Sequence random;
  random.rng.seed(11);
  random.banned = {2, 3};
  std::vector<int> counts(4, 0);
  for (int i = 0; i < 20000; ++i) ++counts[random.sample(logits).token];
  CHECK(counts[2] == 0);
  CHECK(counts[3] == 0);
  CHECK(counts[0] > 0);
  CHECK(counts[1] > counts[0]);
}

TEST_CASE("every token banned: the raw argmax, and still one draw") {
  const std::vector<float> logits = {0.0f, 4.0f, 1.0f};
  Sequence greedy{greedy_params()};
  greedy.banned = {0, 1, 2};
  CHECK(greedy.sample(logits).token == 1);

  Sequence random;
  random.rng.seed(5);
  random.banned = {0, 1, 2};
  random.params.logprobs = 0;  // for the rank
  SamplingRng twin(5);
  const auto sampled = random.sample(logits);
  CHECK(sampled.token == 1);
  CHECK(sampled.rank == 1);
  twin();
  CHECK(random.rng() == twin());
}

TEST_CASE("NaN and infinite logits do not break the sampler") {
  Sequence s{greedy_params()};
  s.params.logprobs = 0;  // the sampled token's logprob
  const float nan = std::numeric_limits<float>::quiet_NaN();
  const float inf = std::numeric_limits<float>::infinity();
  // NaN counts as -inf.
  auto sampled = s.sample({nan, 1.0f, nan});
  CHECK(sampled.token == 1);
  CHECK(sampled.logprob == doctest::Approx(0.0));
  // +inf wins, and two of them share the probability.
  sampled = s.sample({1.0f, inf, 2.0f, inf});
  CHECK(sampled.token == 1);
  CHECK(sampled.logprob == doctest::Approx(std::log(0.5)));
  // Nothing finite at all: the lowest id, all equally likely.
  s.params.logprobs = 2;
  sampled = s.sample({kNegInf, nan, kNegInf, kNegInf});
  CHECK(sampled.token == 0);
  CHECK(sampled.rank == 1);
  CHECK(sampled.logprob == doctest::Approx(std::log(0.25)));
  CHECK(sampled.top_logprobs.size() == 2);

  Sequence r;
  r.params.top_p = 0.5;
  r.params.top_k = 2;
  r.params.min_p = 0.5;
  CHECK(r.sample({kNegInf, kNegInf}).token == 0);
  CHECK(r.sample({nan, inf, 3.0f}).token == 1);
  CHECK(r.sample({nan, 1.0f, nan}).token == 1);
}

TEST_CASE("masks: min_p, top_k (with ties) and top_p, each on the renormalized survivors") {
  // Probabilities 0.5, 0.3, 0.15, 0.05 at temperature 1.
  const std::vector<float> logits = {std::log(0.5f), std::log(0.3f), std::log(0.15f), std::log(0.05f)};
  SamplingParams params;

  CHECK(support(sampling_distribution(logits, params)) == std::set<TokenId>{0, 1, 2, 3});
  params.min_p = 0.2;  // drops p < 0.1
  check_distribution(sampling_distribution(logits, params), renormalized(logits, 1.0, {0, 1, 2}));
  params.min_p = 1.0;  // only the most likely
  check_distribution(sampling_distribution(logits, params), renormalized(logits, 1.0, {0}));
  params.min_p = 0.0;

  params.top_k = 2;
  check_distribution(sampling_distribution(logits, params), renormalized(logits, 1.0, {0, 1}));
  params.top_k = 4;
  CHECK(support(sampling_distribution(logits, params)).size() == 4);
  params.top_k = -1;
  CHECK(support(sampling_distribution(logits, params)).size() == 4);
  params.top_k = 0;

  // vLLM's rule: the tokens before must sum to less than top_p.
  params.top_p = 0.45;
  CHECK(support(sampling_distribution(logits, params)) == std::set<TokenId>{0});
  params.top_p = 0.55;
  CHECK(support(sampling_distribution(logits, params)) == std::set<TokenId>{0, 1});
  params.top_p = 0.7;
  check_distribution(sampling_distribution(logits, params), renormalized(logits, 1.0, {0, 1}));
  params.top_p = 0.85;
  CHECK(support(sampling_distribution(logits, params)) == std::set<TokenId>{0, 1, 2});
  params.top_p = 0.99;
  CHECK(support(sampling_distribution(logits, params)).size() == 4);

  // top_p applies to what top_k left, renormalized: 0.5 / 0.8 = 0.625 reaches 0.6 alone.
  params.top_p = 0.6;
  CHECK(support(sampling_distribution(logits, params)) == std::set<TokenId>{0, 1});
  params.top_k = 2;
  CHECK(support(sampling_distribution(logits, params)) == std::set<TokenId>{0});

  // Temperature reshapes before the masks.
  SamplingParams hot;
  hot.temperature = 2.0;
  check_distribution(sampling_distribution(logits, hot), renormalized(logits, 2.0, {0, 1, 2, 3}));

  // Ties: top_k keeps every token equal to the k-th, top_p every token equal to the last it needs.
  const std::vector<float> tied = {3.0f, 2.0f, 2.0f, 1.0f};
  SamplingParams k2;
  k2.top_k = 2;
  CHECK(support(sampling_distribution(tied, k2)) == std::set<TokenId>{0, 1, 2});
  const std::vector<float> flat(4, 0.0f);
  SamplingParams half;
  half.top_p = 0.5;
  CHECK(support(sampling_distribution(flat, half)).size() == 4);
  half.top_p = 0.3;  // token 0 alone is 0.53 of {3, 2, 2, 1}; 0.6 needs one 2, and takes both
  CHECK(support(sampling_distribution(tied, half)) == std::set<TokenId>{0});
  half.top_p = 0.6;
  CHECK(support(sampling_distribution(tied, half)) == std::set<TokenId>{0, 1, 2});

  CHECK(sampling_distribution(std::vector<float>(3, kNegInf), params).empty());

  // top_k with min_p; and a k beyond the finite tokens keeps them all, as vLLM's -inf k-th value does.
  SamplingParams both;
  both.top_k = 3;
  both.min_p = 0.5;  // drops weights < 0.5: 0.3 / 0.5 = 0.6 stays, 0.15 / 0.5 = 0.3 goes
  check_distribution(sampling_distribution(logits, both), renormalized(logits, 1.0, {0, 1}));
  const std::vector<float> banned = {kNegInf, 1.0f, kNegInf, 0.0f, kNegInf};
  SamplingParams k3;
  k3.top_k = 3;
  check_distribution(sampling_distribution(banned, k3), renormalized(banned, 1.0, {1, 3}));
  k3.top_k = 80;  // above the insertion-select limit
  std::vector<float> wide(200);
  for (std::size_t i = 0; i < wide.size(); ++i) wide[i] = static_cast<float>((i * 37) % 200) / 50.0f;
  CHECK(support(sampling_distribution(wide, k3)).size() == 80);
  const auto kept = support(sampling_distribution(wide, k3));
  for (const TokenId t : kept) CHECK(wide[t] >= 120.0f / 50.0f);
}

TEST_CASE("masks on a 152k vocabulary agree with a full sort") {
  const std::size_t vocab = 152064;
  std::vector<float> logits(vocab);
  SamplingRng fill(2024);
  std::normal_distribution<float> normal(0.0f, 3.0f);  // only the test's data; its exact values do not matter
  for (auto& x : logits) x = normal(fill);
  std::vector<TokenId> order(vocab);
  std::iota(order.begin(), order.end(), 0);
  std::sort(order.begin(), order.end(),
            [&](TokenId a, TokenId b) { return logits[a] > logits[b] || (logits[a] == logits[b] && a < b); });

  struct Case {
    double temperature, top_p, min_p;
    int top_k;
  };
  for (const Case c : {Case{1.0, 0.9, 0.0, 0}, Case{0.7, 0.95, 0.0, 0}, Case{1.3, 0.5, 0.0, 0},
                       Case{1.0, 0.999, 0.0, 0}, Case{1.0, 0.8, 0.0, 1000}, Case{0.8, 1.0, 0.0, 40},
                       Case{1.0, 0.9, 0.001, 0}}) {
    CAPTURE(c.temperature);
    CAPTURE(c.top_p);
    CAPTURE(c.top_k);
    CAPTURE(c.min_p);
    // The reference, in double, straight from the definitions.
    const double top = logits[order[0]];
    std::vector<TokenId> kept;
    for (const TokenId t : order) {
      const double w = std::exp((logits[t] - top) / c.temperature);
      if (w < c.min_p) continue;
      if (c.top_k > 0 && static_cast<int>(kept.size()) >= c.top_k && logits[t] < logits[kept[c.top_k - 1]]) continue;
      kept.push_back(t);
    }
    // cumulative[i]: the probability of kept[0, i), after min_p and top_k.
    std::vector<double> cumulative = {0.0};
    for (const TokenId t : kept) cumulative.push_back(cumulative.back() + std::exp((logits[t] - top) / c.temperature));
    for (double& v : cumulative) v /= cumulative.back();
    std::size_t count = kept.size();
    for (std::size_t i = 1; i < kept.size(); ++i)
      if (cumulative[i] >= c.top_p) {
        count = i;
        break;
      }

    SamplingParams params;
    params.temperature = c.temperature;
    params.top_p = c.top_p;
    params.top_k = c.top_k;
    params.min_p = c.min_p;
    const auto distribution = sampling_distribution(logits, params);
    // The sampler keeps a prefix of the same order; float weights may move the top_p cut by a token or
    // two whose probability is below rounding, never more.
    const auto kept_by_sampler = support(distribution);
    const std::size_t m = kept_by_sampler.size();
    REQUIRE(m >= 1);
    REQUIRE(m <= kept.size());
    CHECK(kept_by_sampler == std::set<TokenId>(kept.begin(), kept.begin() + static_cast<std::ptrdiff_t>(m)));
    if (c.top_p < 1.0) {
      CHECK(std::abs(cumulative[m] - cumulative[count]) < 1e-6);
    } else {
      CHECK(m == count);
    }
    CHECK(std::accumulate(distribution.begin(), distribution.end(), 0.0) == doctest::Approx(1.0));
  }
}

TEST_CASE("chi-square goodness of fit at temperature 0.7") {
  Sequence s;
  s.params.temperature = 0.7;
  s.rng.seed(20240611);
  const auto expected = renormalized(kSkewed, 0.7, {0, 1, 2, 3, 4, 5, 6, 7});
  check_distribution(sampling_distribution(kSkewed, s.params), expected);
  check_goodness_of_fit(s, kSkewed, expected, 200000);
}

TEST_CASE("chi-square goodness of fit with top_k and top_p") {
  Sequence s;
  s.params.temperature = 0.7;

  SUBCASE("top_k = 4") {
    s.rng.seed(101);
    s.params.top_k = 4;
    const auto expected = renormalized(kSkewed, 0.7, {4, 7, 0, 1});
    check_distribution(sampling_distribution(kSkewed, s.params), expected);
    check_goodness_of_fit(s, kSkewed, expected, 200000);
  }
  SUBCASE("top_p = 0.8") {
    s.rng.seed(202);
    // Most likely first: 0.49165, 0.24068 (sum 0.73233 < 0.8: one more), 0.11782 (sum 0.85015: stop).
    s.params.top_p = 0.8;
    const auto expected = renormalized(kSkewed, 0.7, {4, 7, 0});
    check_distribution(sampling_distribution(kSkewed, s.params), expected);
    check_goodness_of_fit(s, kSkewed, expected, 200000);
  }
  SUBCASE("top_k = 4 then top_p = 0.9 on the renormalized four") {
    s.rng.seed(303);
    // Alone, top_p = 0.9 would keep token 1 too (0.85015 < 0.9); after top_k it is 0.93646 >= 0.9.
    s.params.top_k = 4;
    s.params.top_p = 0.9;
    const auto expected = renormalized(kSkewed, 0.7, {4, 7, 0});
    check_distribution(sampling_distribution(kSkewed, s.params), expected);
    check_goodness_of_fit(s, kSkewed, expected, 200000);
  }
  SUBCASE("min_p = 0.1") {
    s.rng.seed(404);
    // Drops p < 0.049165: tokens 6 (0.04334), 2, 3 and 5.
    s.params.min_p = 0.1;
    const auto expected = renormalized(kSkewed, 0.7, {4, 7, 0, 1});
    check_distribution(sampling_distribution(kSkewed, s.params), expected);
    check_goodness_of_fit(s, kSkewed, expected, 200000);
  }
}

TEST_CASE("seeded streams: one draw per token, the same seed the same tokens") {
  const std::vector<float> logits = {0.0f, 0.1f, 0.2f, 0.3f, 0.4f, 0.5f, 0.6f, 0.7f};
  const auto run = [&](std::uint64_t seed) {
    Sequence s;
    s.rng.seed(seed);
    std::vector<TokenId> tokens;
    for (int i = 0; i < 64; ++i) tokens.push_back(s.sample(logits).token);
    return tokens;
  };
  CHECK(run(42) == run(42));
  CHECK(run(42) != run(43));

  // u = (rng() >> 11) * 2^-53 and an inverse CDF in id order: the token is predictable from the stream.
  Sequence s;
  s.rng.seed(42);
  SamplingRng twin(42);
  const auto p = sampling_distribution(logits, s.params);
  for (int i = 0; i < 100; ++i) {
    const double u = static_cast<double>(twin() >> 11) * 0x1.0p-53;
    TokenId expected = 0;
    for (double cumulative = p[0]; cumulative <= u && expected + 1 < 8;) cumulative += p[++expected];
    CHECK(s.sample(logits).token == expected);
  }
  CHECK(s.rng() == twin());
}

TEST_CASE("concurrent calls with their own contexts give the single-threaded results") {
  std::vector<float> logits(5000);
  SamplingRng fill(1);
  for (auto& x : logits) x = static_cast<float>(fill() % 1000) / 100.0f;
  const auto run = [&](int index, std::vector<TokenId>& out) {
    Sequence s;
    s.params.top_p = 0.9;
    s.params.top_k = index % 2 ? 50 : 0;
    s.params.repetition_penalty = 1.2;
    s.params.logprobs = 5;
    s.rng.seed(static_cast<std::uint64_t>(index));
    s.prompt = {1, 2, 3};
    for (int i = 0; i < 200; ++i) {
      const auto sampled = s.sample(logits);
      out.push_back(sampled.token);
      s.output.push_back(sampled.token);
    }
  };
  std::vector<std::vector<TokenId>> alone(4), together(4);
  for (int i = 0; i < 4; ++i) run(i, alone[i]);
  std::vector<std::thread> threads;
  for (int i = 0; i < 4; ++i) threads.emplace_back(run, i, std::ref(together[i]));
  for (auto& thread : threads) thread.join();
  CHECK(alone == together);
}
