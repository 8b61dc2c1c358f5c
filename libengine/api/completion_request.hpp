#pragma once

#include "api/serving_defaults.hpp"
#include "runtime/sampling_params.hpp"

#include <nlohmann/json.hpp>

#include <optional>
#include <string>
#include <variant>
#include <vector>

namespace llmctl::api {

using engine::TokenId;

// One prompt of a completions request: text to tokenize, or token ids.
using PromptInput = std::variant<std::string, std::vector<TokenId>>;

// What streaming asked for (stream_options is refused unless stream is true; include_usage defaults to
// true once stream_options is given, as in vLLM).
struct StreamOptions {
  bool stream = false;
  bool include_usage = false;
  bool continuous_usage_stats = false;
};

// POST /v1/completions (vLLM's CompletionRequest): the fields llmctl honours, checked.
struct CompletionRequest {
  std::optional<std::string> model;
  std::vector<PromptInput> prompts;  // prompt: str | [str] | [int] | [[int]]; never empty
  engine::SamplingParams sampling;   // max_tokens 16 unless given; logprobs (an int) -> sampling.logprobs
  StreamOptions stream;
  bool echo = false;
  bool add_special_tokens = true;
};

// Throws ApiError 400 with vLLM's wording for a body that is not an object, a field of the wrong type or
// range (negative, NaN, oversized), unsupported fields with a value (suffix, best_of > n, use_beam_search,
// logit_bias, response_format other than text, guided_*...). Unknown fields are ignored, as vLLM does.
// `defaults` fills unset sampling fields and caps max_tokens/logprobs. Bodies are ordered_json, as for
// chat (a nlohmann::json converts to it).
CompletionRequest parse_completion_request(const nlohmann::ordered_json& body, const ServingDefaults& defaults);

}  // namespace llmctl::api
