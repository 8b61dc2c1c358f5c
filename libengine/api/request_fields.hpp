#pragma once

#include "api/completion_request.hpp"

#include <nlohmann/json.hpp>

#include <cstdint>
#include <optional>
#include <string>
#include <string_view>
#include <vector>

namespace llmctl::api {

// Request bodies are read as ordered_json so that what reaches a chat template (tool schemas, messages)
// keeps the client's key order, as vLLM's Python dicts do.
using Json = nlohmann::ordered_json;

// Reading the fields of a request body as pydantic reads vLLM's request models: null is the same as
// absent, an integer may be written 5.0, numbers must be finite. No other coercion (pydantic's "5" for
// 5 or 1 for true are refused). Each failure is ApiError 400 whose message and param name the field;
// `name` is the field's path in the body ("temperature", "messages[0].role").

[[noreturn]] void fail_field(std::string_view param, const std::string& message);

// `body` when it is an object, else ApiError 400 "The request body must be a JSON object".
const Json& require_object_body(const Json& body);

// The value of field `name` of `object`, or nullptr when it is absent or null.
const Json* find_field(const Json& object, std::string_view name);

// "a string", "an object", "null"...: what a value is, for messages.
std::string describe(const Json& value);

// One value, checked.
bool as_bool(const Json& value, std::string_view name);
std::int64_t as_int64(const Json& value, std::string_view name);
int as_int(const Json& value, std::string_view name);  // within int's range
double as_number(const Json& value, std::string_view name);
const std::string& as_string(const Json& value, std::string_view name);
const Json& as_object(const Json& value, std::string_view name);
const Json& as_array(const Json& value, std::string_view name);
engine::TokenId as_token_id(const Json& value, std::string_view name);  // "Token id N is out of vocabulary"

// Field `name` of `object`, checked; nullopt when absent or null.
std::optional<bool> optional_bool(const Json& object, std::string_view name);
std::optional<std::int64_t> optional_int64(const Json& object, std::string_view name);
std::optional<int> optional_int(const Json& object, std::string_view name);
std::optional<double> optional_number(const Json& object, std::string_view name);
std::optional<std::string> optional_string(const Json& object, std::string_view name);
std::optional<std::vector<std::string>> optional_string_or_list(const Json& object, std::string_view name);
Json optional_object(const Json& object, std::string_view name);  // {} when absent or null

// The sampling fields chat and completions share: n, the penalties, temperature, top_p, top_k, min_p,
// seed, stop, stop_token_ids, ignore_eos, min_tokens, include_stop_str_in_output, skip_special_tokens.
// Fields the body leaves unset take the generation config's temperature, top_p, top_k, min_p and
// repetition_penalty, then vLLM's defaults. max_tokens and logprobs are the caller's (they differ).
engine::SamplingParams read_sampling_fields(const Json& body, const ServingDefaults& defaults);

// stream and stream_options: stream_options (a non-empty object) needs stream=true; include_usage
// defaults to true once stream_options is given; continuous_usage_stats counts only with include_usage.
StreamOptions read_stream_options(const Json& body);

// ApiError 400 for the vLLM fields llmctl cannot honour when they carry a value: best_of > 1 (vLLM V1
// refuses it too), use_beam_search, logit_bias, response_format other than text, guided decoding and
// structured outputs, prompt_logprobs, allowed_token_ids, bad_words, logits_processors,
// truncate_prompt_tokens, return_tokens_as_token_ids, priority. `n` is the request's, for best_of.
void refuse_unsupported_fields(const Json& body, int n);

// `requested` capped by the generation config's max_new_tokens (vLLM's server-wide cap).
int cap_max_tokens(int requested, const ServingDefaults& defaults);

// vLLM's "Requested sample logprobs of N, which is greater than max allowed: M" past --max-logprobs.
void check_logprobs_limit(int logprobs, const ServingDefaults& defaults, std::string_view param);

// SamplingParams::validate, its message turned into ApiError 400 naming the field (max_tokens under
// the name the request used for it).
void validate_sampling(const engine::SamplingParams& sampling, std::string_view max_tokens_field = "max_tokens");

}  // namespace llmctl::api
