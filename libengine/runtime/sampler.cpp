#include "runtime/sampler.hpp"

#include "common/error.hpp"

#include <algorithm>
#include <bit>
#include <cmath>
#include <cstdint>
#include <functional>
#include <limits>
#include <optional>
#include <string>
#include <utility>

namespace llmctl::engine {

namespace {

constexpr float kNegInf = -std::numeric_limits<float>::infinity();
// Output-token counts and a prompt flag share one word per token.
constexpr std::uint32_t kInPrompt = 1u << 31;
constexpr std::uint32_t kCountMask = kInPrompt - 1;
// top_p sorts the most likely tokens in growing chunks: a peaked distribution costs one selection
// over the candidates and a sort of a few hundred, not a sort of the vocabulary.
constexpr std::size_t kFirstTopPChunk = 256;
// Up to this many (top_k, top logprobs) are kept in a sorted list during one pass; more use nth_element.
constexpr std::size_t kMaxInsertionSelect = 64;

struct Candidate {
  float logit;
  TokenId token;
};

// Most likely first; equal logits by lower id, so every ordering in the sampler agrees.
bool more_likely(const Candidate& a, const Candidate& b) {
  return a.logit > b.logit || (a.logit == b.logit && a.token < b.token);
}

// Per-thread buffers sized to the largest vocabulary seen, so a step allocates nothing once warm.
struct Scratch {
  std::vector<float> weights;         // exp((logit - max) / temperature), 0 when masked
  std::vector<std::uint32_t> counts;  // zero between calls
  std::vector<Candidate> candidates;  // kept tokens of top_k / top_p, or all tokens for many logprobs
  std::vector<Candidate> best;        // a few top logprobs
  std::vector<float> values;          // top_k's selection
  std::vector<std::pair<TokenId, float>> undo;  // logits changed by bans and penalties, to restore
};

Scratch& scratch() {
  thread_local Scratch instance;
  return instance;
}

template <typename T>
void ensure_size(std::vector<T>& buffer, std::size_t size) {
  if (buffer.size() < size) buffer.resize(size);
}

bool in_vocab(TokenId token, std::size_t vocab) {
  return token >= 0 && static_cast<std::size_t>(token) < vocab;
}

// exp(x) for x <= 0 within 2 ulp, and exactly 0 below -87 (so -inf, a masked token, weighs nothing).
// The exp passes over the vocabulary are most of the sampler's time. libm's expf is a call per element;
// this is branch-free with integer masks only, so GCC vectorizes the blocks below at -O2 (a floating
// compare would need -fno-trapping-math): about twice as fast with SSE2 alone.
// exp(x) = 2^n * exp(r), n = round(x / ln 2), |r| <= ln(2) / 2, exp(r) by its Taylor series to r^7.
inline float exp_nonpositive(float x) {
  const auto bits = std::bit_cast<std::uint32_t>(x);
  // As unsigned integers, negative floats grow with their magnitude and all others lie below them, so
  // this means x >= -87, and rules out -inf and sign-set NaN.
  const std::uint32_t keep = bits <= 0xc2ae0000u ? 0xffffffffu : 0u;
  x = std::bit_cast<float>(bits & keep);
  const auto n = static_cast<float>(static_cast<std::int32_t>(x * 1.44269504f - 0.5f));  // round, x <= 0
  // ln 2 in two parts, the first exact in few bits, so n * ln2_hi is exact.
  const float r = (x - n * 0.693145751953125f) - n * 1.42860682e-06f;
  float p = 1.0f / 5040.0f;
  p = p * r + 1.0f / 720.0f;
  p = p * r + 1.0f / 120.0f;
  p = p * r + 1.0f / 24.0f;
  p = p * r + 1.0f / 6.0f;
  p = p * r + 0.5f;
  p = p * r + 1.0f;
  p = p * r + 1.0f;
  const auto power = std::bit_cast<float>((static_cast<std::int32_t>(n) + 127) << 23);
  return std::bit_cast<float>(std::bit_cast<std::uint32_t>(p * power) & keep);
}

// out[i] = exp((x[i] - shift) * scale) for shift >= every x[i]; returns their sum. Fixed-size blocks
// and one accumulator per lane: GCC's -O2 cost model vectorizes only loops with a known trip count,
// and a single sum would be a dependency chain.
double exp_and_sum(std::span<const float> logits, float shift, float scale, float* __restrict out) {
  constexpr std::size_t kBlock = 16;
  const float* __restrict x = logits.data();
  double lanes[kBlock] = {};
  const std::size_t n = logits.size();
  std::size_t i = 0;
  for (; i + kBlock <= n; i += kBlock) {
    for (std::size_t j = 0; j < kBlock; ++j) {
      const float w = exp_nonpositive((x[i + j] - shift) * scale);
      out[i + j] = w;
      lanes[j] += w;
    }
  }
  double sum = 0.0;
  for (; i < n; ++i) sum += out[i] = exp_nonpositive((x[i] - shift) * scale);
  for (const double lane : lanes) sum += lane;
  return sum;
}

// log_softmax of the raw logits, from their maximum and the log of the normalizer.
struct RawLogprobs {
  float max = kNegInf;
  TokenId argmax = 0;
  double sum = 0.0;             // sum(exp(logit - max)); the terms are left in scratch.weights
  double log_normalizer = 0.0;  // log(sum)
  double uniform = 0.0;         // every logit -inf: all tokens equally (un)likely, -log(vocab) each

  float of(float logit) const {
    if (max == kNegInf) return static_cast<float>(uniform);
    return static_cast<float>(static_cast<double>(logit) - static_cast<double>(max) - log_normalizer);
  }
};

// The logits as the sampler reads them (readable_logit); the normalizer (a pass of exp over the
// vocabulary) only where asked for.
RawLogprobs read_raw_logits(std::span<float> logits, Scratch& s, bool normalize) {
  RawLogprobs raw;
  for (std::size_t i = 0; i < logits.size(); ++i) {
    float& x = logits[i];
    x = readable_logit(x);
    if (x > raw.max) {
      raw.max = x;
      raw.argmax = static_cast<TokenId>(i);
    }
  }
  if (raw.max == kNegInf) {
    raw.uniform = -std::log(static_cast<double>(logits.size()));
    return raw;
  }
  if (!normalize) return raw;
  ensure_size(s.weights, logits.size());
  raw.sum = exp_and_sum(logits, raw.max, 1.0f, s.weights.data());
  raw.log_normalizer = std::log(raw.sum);
  return raw;
}

void set_logit(std::span<float> logits, TokenId token, float value, std::vector<std::pair<TokenId, float>>* undo) {
  float& slot = logits[static_cast<std::size_t>(token)];
  if (undo) undo->emplace_back(token, slot);
  slot = value;
}

// Returns whether any logit may have changed.
bool bans_and_penalties(std::span<float> logits, const SamplingContext& context,
                        std::vector<std::pair<TokenId, float>>* undo) {
  const SamplingParams& params = context.params;
  const std::size_t vocab = logits.size();
  bool changed = false;
  for (const TokenId token : context.banned_tokens) {
    if (!in_vocab(token, vocab)) continue;
    set_logit(logits, token, kNegInf, undo);
    changed = true;
  }
  if (!params.penalized()) return changed;
  const bool repetition = params.repetition_penalty != 1.0;

  // vLLM's tensors are float32.
  const auto repetition_penalty = static_cast<float>(params.repetition_penalty);
  const auto frequency_penalty = static_cast<float>(params.frequency_penalty);
  const auto presence_penalty = static_cast<float>(params.presence_penalty);
  auto& counts = scratch().counts;
  ensure_size(counts, vocab);
  // Nothing may throw while counts is dirty.
  if (undo)
    undo->reserve(undo->size() + context.output_tokens.size() + (repetition ? context.prompt_tokens.size() : 0));
  for (const TokenId token : context.output_tokens)
    if (in_vocab(token, vocab)) ++counts[static_cast<std::size_t>(token)];
  // Only the repetition penalty looks at the prompt, which can be far longer than the output.
  if (repetition)
    for (const TokenId token : context.prompt_tokens)
      if (in_vocab(token, vocab)) counts[static_cast<std::size_t>(token)] |= kInPrompt;

  // Each distinct token once; clearing its word marks it done and leaves the scratch zeroed.
  const auto penalize = [&](TokenId token) {
    if (!in_vocab(token, vocab)) return;
    std::uint32_t& word = counts[static_cast<std::size_t>(token)];
    if (word == 0) return;
    const std::uint32_t count = word & kCountMask;
    const bool in_prompt = (word & kInPrompt) != 0;
    word = 0;
    const float value = penalized_logit(logits[static_cast<std::size_t>(token)], in_prompt, count,
                                        repetition_penalty, frequency_penalty, presence_penalty);
    set_logit(logits, token, value, undo);
    changed = true;
  };
  for (const TokenId token : context.output_tokens) penalize(token);
  if (repetition)
    for (const TokenId token : context.prompt_tokens) penalize(token);
  return changed;
}

TokenId argmax(std::span<const float> logits) {
  TokenId best = 0;
  for (std::size_t i = 1; i < logits.size(); ++i)
    if (logits[i] > logits[static_cast<std::size_t>(best)]) best = static_cast<TokenId>(i);
  return best;
}

// The argmax after bans and penalties. Untouched tokens keep their raw logits, so unless the raw argmax
// itself was touched, the answer is it or one of the few touched tokens: no pass over the vocabulary.
TokenId argmax_after_changes(std::span<const float> logits, TokenId raw_argmax,
                             const std::vector<std::pair<TokenId, float>>& undo) {
  for (const auto& change : undo)
    if (change.first == raw_argmax) return argmax(logits);
  TokenId best = raw_argmax;
  for (const auto& change : undo) {
    const TokenId token = change.first;
    if (more_likely({logits[static_cast<std::size_t>(token)], token}, {logits[static_cast<std::size_t>(best)], best}))
      best = token;
  }
  return best;
}

// The k-th largest logit, duplicates counted (0 < k < size).
float kth_largest(std::span<const float> logits, std::size_t k, Scratch& s) {
  auto& values = s.values;
  if (k <= kMaxInsertionSelect) {
    values.clear();  // descending
    for (const float x : logits) {
      if (values.size() == k) {
        if (!(x > values.back())) continue;
        values.pop_back();
      }
      values.insert(std::upper_bound(values.begin(), values.end(), x, std::greater<>()), x);
    }
    return values.back();
  }
  values.assign(logits.begin(), logits.end());
  const auto kth = values.begin() + static_cast<std::ptrdiff_t>(k - 1);
  std::nth_element(values.begin(), kth, values.end(), std::greater<>());
  return *kth;
}

// What step 5 keeps, with unnormalized weights in scratch.weights. Listed (top_k or top_p): the kept
// tokens are candidates[0, count), and only their weights mean anything. Otherwise every token of
// nonzero weight is kept.
struct KeptTokens {
  bool listed = false;
  std::size_t count = 0;
  double total = 0.0;  // sum of the kept weights
};

// Temperature, min_p, top_k and top_p as vLLM applies them, to logits free of NaN and +inf whose
// maximum `top` is finite. `ready_total`: scratch.weights already holds exp((logit - top) / T) summing
// to it. The most likely token always survives: its weight is exp(0) = 1, which passes any min_p <= 1,
// any top_k and any top_p > 0.
KeptTokens keep_tokens(std::span<const float> logits, const SamplingParams& params, float top,
                       std::optional<double> ready_total, Scratch& s) {
  const std::size_t vocab = logits.size();
  ensure_size(s.weights, vocab);
  ensure_size(s.candidates, vocab);
  float* weights = s.weights.data();
  // softmax(x / T) up to its normalizer; scaled after subtracting the max, it never overflows.
  const auto inverse_temperature = static_cast<float>(1.0 / params.temperature);
  // min_p drops p < min_p * max(p), and max(p) is weight 1.
  const auto min_p = static_cast<float>(params.min_p);
  KeptTokens kept;
  if (params.top_k > 0 && static_cast<std::size_t>(params.top_k) < vocab) {
    // top_k keeps every token whose logit reaches the k-th largest, ties included, as vLLM's masking
    // by value does (-inf tokens count, as in vLLM). Only those few need a weight.
    const float threshold = kth_largest(logits, static_cast<std::size_t>(params.top_k), s);
    for (std::size_t i = 0; i < vocab; ++i)
      if (logits[i] >= threshold && logits[i] != kNegInf)
        s.candidates[kept.count++] = {logits[i], static_cast<TokenId>(i)};
    std::size_t alive = 0;
    for (std::size_t i = 0; i < kept.count; ++i) {
      const Candidate c = s.candidates[i];
      const float w = exp_nonpositive((c.logit - top) * inverse_temperature);
      if (w == 0.0f || w < min_p) continue;
      weights[static_cast<std::size_t>(c.token)] = w;
      kept.total += w;
      s.candidates[alive++] = c;
    }
    kept.count = alive;
    kept.listed = true;
  } else {
    kept.total = ready_total ? *ready_total : exp_and_sum(logits, top, inverse_temperature, weights);
    if (min_p > 0.0f) {
      kept.total = 0.0;
      for (std::size_t i = 0; i < vocab; ++i) {
        if (weights[i] < min_p) weights[i] = 0.0f;
        kept.total += weights[i];
      }
    }
  }
  if (params.top_p >= 1.0) return kept;
  const double total = kept.total;

  // top_p, vLLM's rule: sorted ascending, a token goes when the probability up to and including it is
  // <= 1 - top_p. From the top, token i stays while the tokens before it sum to less than top_p: the
  // smallest most-likely set that reaches top_p, and every token tied with its last (vLLM's sort leaves
  // the order of ties open; keeping them all is what the GPU sampler does, and what top_k does). A
  // token of weight w has at most `vocab` tokens at or
  // below it, so w <= (1 - top_p) * total / vocab goes for sure: only the rest need sorting.
  if (!kept.listed) {
    const double surely_cut = 0.5 * (1.0 - params.top_p) * total / static_cast<double>(vocab);
    kept.count = 0;
    for (std::size_t i = 0; i < vocab; ++i)
      if (weights[i] > surely_cut) s.candidates[kept.count++] = {logits[i], static_cast<TokenId>(i)};
    kept.listed = true;
  }
  const std::size_t n = kept.count;
  const auto begin = s.candidates.begin();
  const auto end = begin + static_cast<std::ptrdiff_t>(n);
  const double limit = params.top_p * total;
  double before = 0.0;
  std::size_t done = 0;
  while (done < n) {
    const std::size_t chunk = std::min(n - done, std::max(kFirstTopPChunk, 3 * done));
    const auto first = begin + static_cast<std::ptrdiff_t>(done);
    const auto last = first + static_cast<std::ptrdiff_t>(chunk);
    if (last != end) std::nth_element(first, last, end, more_likely);
    std::sort(first, last, more_likely);
    for (std::size_t i = done; i < done + chunk; ++i) {
      if (i > 0 && before >= limit && s.candidates[i].logit != s.candidates[i - 1].logit)
        return KeptTokens{true, i, before};
      before += weights[static_cast<std::size_t>(s.candidates[i].token)];
    }
    done += chunk;
  }
  return KeptTokens{true, n, before};
}

// Inverse CDF: the first kept token whose cumulative weight passes u * total. Rounding can leave the
// sum just short of the target; then the last kept token is the answer.
TokenId draw(const KeptTokens& kept, const Scratch& s, std::size_t vocab, double u) {
  const double target = u * kept.total;
  double cumulative = 0.0;
  TokenId last = -1;
  if (kept.listed) {
    for (std::size_t i = 0; i < kept.count; ++i) {
      const TokenId token = s.candidates[i].token;
      cumulative += s.weights[static_cast<std::size_t>(token)];
      if (cumulative > target) return token;
      last = token;
    }
    return last;
  }
  for (std::size_t i = 0; i < vocab; ++i) {
    const float w = s.weights[i];
    if (w == 0.0f) continue;
    cumulative += w;
    if (cumulative > target) return static_cast<TokenId>(i);
    last = static_cast<TokenId>(i);
  }
  return last;
}

// The `count` most likely raw tokens, most likely first (ties by lower id).
std::vector<TokenLogprob> top_logprobs(std::span<const float> logits, std::size_t count, const RawLogprobs& raw,
                                       Scratch& s) {
  const std::size_t vocab = logits.size();
  count = std::min(count, vocab);
  std::vector<Candidate>* best = &s.best;
  if (count <= kMaxInsertionSelect) {
    // One pass keeping a sorted list; after the first few hundred tokens almost nothing enters it.
    best->clear();
    for (std::size_t i = 0; i < vocab && count > 0; ++i) {
      const Candidate c{logits[i], static_cast<TokenId>(i)};
      if (best->size() == count) {
        if (!more_likely(c, best->back())) continue;
        best->pop_back();
      }
      best->insert(std::upper_bound(best->begin(), best->end(), c, more_likely), c);
    }
  } else {
    best = &s.candidates;
    ensure_size(*best, vocab);
    for (std::size_t i = 0; i < vocab; ++i) (*best)[i] = {logits[i], static_cast<TokenId>(i)};
    const auto end = best->begin() + static_cast<std::ptrdiff_t>(vocab);
    const auto nth = best->begin() + static_cast<std::ptrdiff_t>(count);
    if (nth != end) std::nth_element(best->begin(), nth, end, more_likely);
    std::sort(best->begin(), nth, more_likely);
  }
  std::vector<TokenLogprob> result;
  result.reserve(count);
  for (std::size_t i = 0; i < count; ++i) result.push_back({(*best)[i].token, raw.of((*best)[i].logit)});
  return result;
}

void check_vocab(std::size_t vocab) {
  if (vocab == 0 || vocab > static_cast<std::size_t>(std::numeric_limits<TokenId>::max()))
    throw Error("the sampler needs between 1 and 2^31-1 logits, got " + std::to_string(vocab));
}

}  // namespace

float readable_logit(float logit) {
  if (std::isnan(logit)) return kNegInf;
  return logit == std::numeric_limits<float>::infinity() ? std::numeric_limits<float>::max() : logit;
}

float penalized_logit(float logit, bool in_prompt, std::uint32_t output_count, float repetition_penalty,
                      float frequency_penalty, float presence_penalty) {
  if (repetition_penalty != 1.0f && (in_prompt || output_count > 0))
    logit = logit > 0.0f ? logit / repetition_penalty : logit * repetition_penalty;
  if (output_count > 0) {  // vLLM subtracts the two terms one after the other
    logit -= frequency_penalty * static_cast<float>(output_count);
    logit -= presence_penalty;
  }
  return logit;
}

void apply_bans_and_penalties(std::span<float> logits, const SamplingContext& context) {
  bans_and_penalties(logits, context, nullptr);
}

std::vector<double> sampling_distribution(std::span<const float> logits, const SamplingParams& params) {
  check_vocab(logits.size());
  std::vector<float> clean(logits.begin(), logits.end());
  Scratch& s = scratch();
  const RawLogprobs raw = read_raw_logits(clean, s, false);
  std::vector<double> distribution;
  if (raw.max == kNegInf) return distribution;
  const KeptTokens kept = keep_tokens(clean, params, raw.max, std::nullopt, s);
  distribution.assign(clean.size(), 0.0);
  if (kept.listed) {
    for (std::size_t i = 0; i < kept.count; ++i) {
      const auto token = static_cast<std::size_t>(s.candidates[i].token);
      distribution[token] = s.weights[token] / kept.total;
    }
  } else {
    for (std::size_t i = 0; i < clean.size(); ++i) distribution[i] = s.weights[i] / kept.total;
  }
  return distribution;
}

SampledToken sample_token(std::span<float> logits, const SamplingContext& context) {
  const SamplingParams& params = context.params;
  const std::size_t vocab = logits.size();
  check_vocab(vocab);
  Scratch& s = scratch();

  // 1. Logprobs come from the raw logits, before anything below changes them. Their normalizer and the
  // rank cost a pass over the vocabulary each: only for requests that report logprobs (the normalizer
  // also at temperature 1, where it holds the weights step 5 draws from).
  const bool reported = params.logprobs.has_value();
  const bool temperature_one = !params.greedy() && static_cast<float>(1.0 / params.temperature) == 1.0f;
  const RawLogprobs raw = read_raw_logits(logits, s, reported || temperature_one);

  // 2-3. Bans and penalties touch few tokens: remember their raw values instead of copying the vocabulary.
  s.undo.clear();
  const bool changed = bans_and_penalties(logits, context, &s.undo);
  const TokenId best = changed ? argmax_after_changes(logits, raw.argmax, s.undo) : raw.argmax;
  const float top = logits[static_cast<std::size_t>(best)];

  TokenId token = -1;
  if (params.greedy()) {
    // 4. No randomness, so greedy requests leave a shared stream alone.
    if (top != kNegInf) token = best;
  } else {
    // 5. Exactly one draw per token, made first, so the stream advances the same whatever is masked.
    const double u = static_cast<double>(context.rng() >> 11) * 0x1.0p-53;
    if (top != kNegInf) {
      // Unchanged logits at temperature 1: step 1 has computed the very same weights.
      const bool reuse = !changed && temperature_one;
      const KeptTokens kept = keep_tokens(logits, params, top, reuse ? std::optional(raw.sum) : std::nullopt, s);
      token = draw(kept, s, vocab, u);
    }
  }
  // Every token banned (or -inf): something must still be returned, and the model's own choice is the
  // least surprising one. The engine's stop checks then see it as usual.
  if (token < 0) token = raw.argmax;

  for (auto it = s.undo.rbegin(); it != s.undo.rend(); ++it) logits[static_cast<std::size_t>(it->first)] = it->second;

  SampledToken result{token, 0.0f, 0, {}};
  if (!reported) return result;
  const float chosen = logits[static_cast<std::size_t>(token)];
  result.logprob = raw.of(chosen);
  // Rank among the raw logits, 1 for the most likely, ties by lower id as everywhere else here.
  std::int64_t ahead = 0;
  if (token != raw.argmax)
    for (std::size_t i = 0; i < vocab; ++i)
      ahead += (logits[i] > chosen || (logits[i] == chosen && i < static_cast<std::size_t>(token))) ? 1 : 0;
  result.rank = ahead + 1;
  const std::size_t count = *params.logprobs < 0 ? vocab : static_cast<std::size_t>(*params.logprobs);
  result.top_logprobs = top_logprobs(logits, count, raw, s);
  return result;
}

}  // namespace llmctl::engine
