#include "runtime/sampling_params.hpp"

#include "common/error.hpp"
#include "tokenizer/jinja/jinja_text.hpp"

#include <fmt/format.h>
#include <fmt/ranges.h>

#include <cmath>
#include <string>
#include <vector>

namespace llmctl::engine {

namespace {

// vLLM's VLLM_MAX_N_SEQUENCES default: a bound on the fan-out of one request.
constexpr int kMaxN = 16384;

// Numbers as Python's f-strings print them, so that messages read exactly as vLLM's ("3.0", "1e-05", "nan").
std::string py(double value) { return jinja::python_float_repr(value); }

[[noreturn]] void fail(const std::string& message) { throw Error(message); }

}  // namespace

bool SamplingParams::greedy() const { return temperature < kGreedyTemperature; }

bool SamplingParams::penalized() const {
  return repetition_penalty != 1.0 || frequency_penalty != 0.0 || presence_penalty != 0.0;
}

// The checks and texts of vLLM's SamplingParams._verify_args, in its order, then its greedy check and the
// part of its stop_token_ids check that needs no vocabulary. Python's chained comparisons are false for
// NaN, so a NaN fails every range check below just as it does in vLLM; infinities fail them as well.
void SamplingParams::validate() const {
  if (n < 1) fail(fmt::format("n must be at least 1, got {}.", n));
  if (n > kMaxN) fail(fmt::format("n must be at most {}, got {}.", kMaxN, n));
  if (!(-2.0 <= presence_penalty && presence_penalty <= 2.0))
    fail(fmt::format("presence_penalty must be in [-2, 2], got {}.", py(presence_penalty)));
  if (!(-2.0 <= frequency_penalty && frequency_penalty <= 2.0))
    fail(fmt::format("frequency_penalty must be in [-2, 2], got {}.", py(frequency_penalty)));
  if (!std::isfinite(repetition_penalty))
    fail(fmt::format("repetition_penalty must be a finite number, got {}.", py(repetition_penalty)));
  if (repetition_penalty <= 0.0)
    fail(fmt::format("repetition_penalty must be greater than zero, got {}.", py(repetition_penalty)));
  if (!std::isfinite(temperature)) fail(fmt::format("temperature must be a finite number, got {}.", py(temperature)));
  if (temperature < 0.0) fail(fmt::format("temperature must be non-negative, got {}.", py(temperature)));
  if (temperature > 2.0) fail(fmt::format("temperature must be in [0, 2], got {}.", py(temperature)));
  if (!(0.0 < top_p && top_p <= 1.0)) fail(fmt::format("top_p must be in (0, 1], got {}.", py(top_p)));
  // vLLM quietly accepts -1 as "disabled" too.
  if (top_k < -1) fail(fmt::format("top_k must be 0 (disable), or at least 1, got {}.", top_k));
  if (!(0.0 <= min_p && min_p <= 1.0)) fail(fmt::format("min_p must be in [0, 1], got {}.", py(min_p)));
  if (max_tokens < 1) fail(fmt::format("max_tokens must be at least 1, got {}.", max_tokens));
  if (min_tokens < 0) fail(fmt::format("min_tokens must be greater than or equal to 0, got {}.", min_tokens));
  if (min_tokens > max_tokens)
    fail(fmt::format("min_tokens must be less than or equal to max_tokens={}, got {}.", max_tokens, min_tokens));
  // -1 asks for the whole vocabulary, as in vLLM.
  if (logprobs && *logprobs != -1 && *logprobs < 0)
    fail(fmt::format("logprobs must be non-negative or -1, got {}.", *logprobs));
  for (const auto& text : stop)
    if (text.empty()) fail("stop cannot contain an empty string.");
  if (greedy() && n > 1) fail(fmt::format("n must be 1 when using greedy sampling, got {}.", n));
  // vLLM also rejects ids >= the vocabulary size; that needs the model, so the engine checks it.
  std::vector<TokenId> negative;
  for (const TokenId id : stop_token_ids)
    if (id < 0) negative.push_back(id);
  if (!negative.empty())
    fail(fmt::format("token_id(s) [{}] in stop_token_ids contain out-of-vocab token ids.", fmt::join(negative, ", ")));
}

}  // namespace llmctl::engine
