#pragma once

#include "runtime/sampling_params.hpp"

#include <cstdint>
#include <random>
#include <span>
#include <vector>

namespace llmctl::engine {

struct TokenLogprob {
  TokenId token;
  float logprob;
};

struct SampledToken {
  TokenId token;
  float logprob;  // of `token`, from the raw logits; 0 unless the request asked for logprobs
  std::int64_t rank;  // 1 for the most likely token of the raw logits; 0 where not computed (GPU sampling, no logprobs)
  std::vector<TokenLogprob> top_logprobs;  // params.logprobs entries, most likely first; empty when unset
};

// The random stream of one sequence: seeded from SamplingParams::seed when given, so that a seeded
// request samples the same tokens whatever else is in the batch.
using SamplingRng = std::mt19937_64;

// What the sampler needs to know about one sequence besides its logits.
struct SamplingContext {
  const SamplingParams& params;
  std::span<const TokenId> prompt_tokens;
  std::span<const TokenId> output_tokens;
  // Tokens that may not be sampled yet (eos and stop_token_ids while min_tokens is not reached).
  std::span<const TokenId> banned_tokens;
  SamplingRng& rng;
};

// Picks the next token of one sequence as vLLM V1 does. Logprobs come from the raw logits (vLLM's
// default "raw_logprobs"; computed only when params.logprobs is set); then banned tokens,
// repetition/presence/frequency penalties, temperature, min_p, top_k and top_p apply, in that order
// (top_k and top_p keep every token tied with the last they need), and a token is drawn. The engine
// uses it for rows that report logprobs; the others are drawn by Backend::start_sampling, by the same
// rules with another draw. `logits` (vocab entries) is
// used as scratch space: on return it holds the raw logits with NaN replaced by -inf and +inf by the
// largest float, which is how the sampler reads them.
//
// Greedy (params.greedy()) takes the argmax, lowest id first, and uses no randomness. Otherwise exactly
// one rng() call is made, for u = (rng() >> 11) * 2^-53, and the token is found by inverse CDF over the
// kept tokens in a fixed order: no std:: distribution is involved, so a seeded stream gives the same
// tokens whatever the standard library. If every token is banned, the argmax of the raw logits is
// returned rather than nothing. Token ids outside [0, vocab) in the context are ignored; params are
// expected to have passed validate(). Safe to call from several threads at once: the scratch (about
// 16 bytes per vocabulary entry) is thread_local and reused, so a warm thread allocates only the
// returned top_logprobs.
SampledToken sample_token(std::span<float> logits, const SamplingContext& context);

// Steps 2 and 3 of sample_token alone, in place: banned tokens to -inf, then vLLM's repetition (prompt
// and output tokens), frequency and presence (output tokens) penalties, in float as vLLM computes them.
void apply_bans_and_penalties(std::span<float> logits, const SamplingContext& context);

// How the sampler reads a logit: NaN, which would poison every comparison, as -inf, and +inf, which
// would poison every subtraction, as the largest float: the limits that keep the ordering the model
// meant. The CPU backend's draws read them so too (kernels/sampling.cu does the same).
float readable_logit(float logit);

// vLLM's penalties of one token in its float arithmetic: the repetition penalty (when not 1) for a token
// of the prompt or the output, then the frequency and presence penalties for one seen `output_count`
// times in the output. The CPU backend's draws use it too (kernels/sampling.cu computes the same).
float penalized_logit(float logit, bool in_prompt, std::uint32_t output_count, float repetition_penalty,
                      float frequency_penalty, float presence_penalty);

// The distribution sample_token draws from for logits that are already penalized: temperature, min_p,
// top_k and top_p applied and renormalized, 0 for masked tokens; empty when every logit is -inf. For
// tests and diagnostics; the sampler itself never builds it.
std::vector<double> sampling_distribution(std::span<const float> logits, const SamplingParams& params);

}  // namespace llmctl::engine
