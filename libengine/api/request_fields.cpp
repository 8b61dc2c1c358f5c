#include "api/request_fields.hpp"

#include "api/api_error.hpp"
#include "common/error.hpp"

#include <fmt/format.h>

#include <algorithm>
#include <cmath>
#include <limits>

namespace llmctl::api {

namespace {

constexpr std::string_view kStructuredOutputFields[] = {"guided_json",    "guided_regex",  "guided_choice",
                                                        "guided_grammar", "structural_tag", "structured_outputs"};

// A number as the client wrote it, for messages (JSON has no NaN; a value built in code may).
std::string number_text(const Json& value) {
  if (value.is_number_float() && !std::isfinite(value.get<double>())) {
    const double number = value.get<double>();
    return std::isnan(number) ? "nan" : (number > 0 ? "inf" : "-inf");
  }
  return value.dump();
}

int to_int(std::int64_t value) {
  return static_cast<int>(std::clamp<std::int64_t>(value, std::numeric_limits<int>::min(), std::numeric_limits<int>::max()));
}

}  // namespace

void fail_field(std::string_view param, const std::string& message) { throw ApiError::bad_request(message, std::string(param)); }

const Json& require_object_body(const Json& body) {
  if (!body.is_object()) throw ApiError::bad_request("The request body must be a JSON object");
  return body;
}

const Json* find_field(const Json& object, std::string_view name) {
  const auto it = object.find(name);
  if (it == object.end() || it->is_null()) return nullptr;
  return &*it;
}

std::string describe(const Json& value) {
  switch (value.type()) {
    case Json::value_t::null: return "null";
    case Json::value_t::boolean: return "a boolean";
    case Json::value_t::string: return "a string";
    case Json::value_t::array: return "an array";
    case Json::value_t::object: return "an object";
    case Json::value_t::number_integer:
    case Json::value_t::number_unsigned:
    case Json::value_t::number_float: return "a number";
    default: return "an unsupported value";
  }
}

bool as_bool(const Json& value, std::string_view name) {
  if (!value.is_boolean()) fail_field(name, fmt::format("{} must be a boolean, got {}.", name, describe(value)));
  return value.get<bool>();
}

std::int64_t as_int64(const Json& value, std::string_view name) {
  if (value.is_number_integer() && !value.is_number_unsigned()) return value.get<std::int64_t>();
  const auto out_of_range = [&] {
    fail_field(name, fmt::format("{} must be between {} and {}, got {}.", name, std::numeric_limits<std::int64_t>::min(),
                           std::numeric_limits<std::int64_t>::max(), number_text(value)));
  };
  if (value.is_number_unsigned()) {
    if (value.get<std::uint64_t>() > static_cast<std::uint64_t>(std::numeric_limits<std::int64_t>::max())) out_of_range();
    return static_cast<std::int64_t>(value.get<std::uint64_t>());
  }
  if (!value.is_number_float()) fail_field(name, fmt::format("{} must be an integer, got {}.", name, describe(value)));
  // pydantic takes a float with no fractional part (5.0) for an int.
  const double number = value.get<double>();
  if (!std::isfinite(number) || number != std::trunc(number))
    fail_field(name, fmt::format("{} must be an integer, got {}.", name, number_text(value)));
  if (number < -0x1p63 || number >= 0x1p63) out_of_range();
  return static_cast<std::int64_t>(number);
}

int as_int(const Json& value, std::string_view name) {
  const std::int64_t number = as_int64(value, name);
  if (number < std::numeric_limits<int>::min() || number > std::numeric_limits<int>::max())
    fail_field(name, fmt::format("{} must be between {} and {}, got {}.", name, std::numeric_limits<int>::min(),
                           std::numeric_limits<int>::max(), number));
  return static_cast<int>(number);
}

double as_number(const Json& value, std::string_view name) {
  if (!value.is_number()) fail_field(name, fmt::format("{} must be a number, got {}.", name, describe(value)));
  const double number = value.get<double>();
  if (!std::isfinite(number)) fail_field(name, fmt::format("{} must be a finite number, got {}.", name, number_text(value)));
  return number;
}

const std::string& as_string(const Json& value, std::string_view name) {
  if (!value.is_string()) fail_field(name, fmt::format("{} must be a string, got {}.", name, describe(value)));
  return value.get_ref<const std::string&>();
}

const Json& as_object(const Json& value, std::string_view name) {
  if (!value.is_object()) fail_field(name, fmt::format("{} must be an object, got {}.", name, describe(value)));
  return value;
}

const Json& as_array(const Json& value, std::string_view name) {
  if (!value.is_array()) fail_field(name, fmt::format("{} must be an array, got {}.", name, describe(value)));
  return value;
}

engine::TokenId as_token_id(const Json& value, std::string_view name) {
  const std::int64_t id = as_int64(value, name);
  // vLLM's wording for an id the vocabulary cannot hold; ids past this model's vocabulary need the
  // model, so the server checks those.
  if (id < 0 || id > std::numeric_limits<engine::TokenId>::max())
    fail_field(name, fmt::format("Token id {} is out of vocabulary", id));
  return static_cast<engine::TokenId>(id);
}

std::optional<bool> optional_bool(const Json& object, std::string_view name) {
  const Json* value = find_field(object, name);
  return value ? std::optional(as_bool(*value, name)) : std::nullopt;
}

std::optional<std::int64_t> optional_int64(const Json& object, std::string_view name) {
  const Json* value = find_field(object, name);
  return value ? std::optional(as_int64(*value, name)) : std::nullopt;
}

std::optional<int> optional_int(const Json& object, std::string_view name) {
  const Json* value = find_field(object, name);
  return value ? std::optional(as_int(*value, name)) : std::nullopt;
}

std::optional<double> optional_number(const Json& object, std::string_view name) {
  const Json* value = find_field(object, name);
  return value ? std::optional(as_number(*value, name)) : std::nullopt;
}

std::optional<std::string> optional_string(const Json& object, std::string_view name) {
  const Json* value = find_field(object, name);
  return value ? std::optional(as_string(*value, name)) : std::nullopt;
}

std::optional<std::vector<std::string>> optional_string_or_list(const Json& object, std::string_view name) {
  const Json* value = find_field(object, name);
  if (!value) return std::nullopt;
  if (value->is_string()) return std::vector<std::string>{value->get<std::string>()};
  if (!value->is_array())
    fail_field(name, fmt::format("{} must be a string or an array of strings, got {}.", name, describe(*value)));
  std::vector<std::string> strings;
  for (std::size_t i = 0; i < value->size(); ++i) strings.push_back(as_string((*value)[i], fmt::format("{}[{}]", name, i)));
  return strings;
}

Json optional_object(const Json& object, std::string_view name) {
  const Json* value = find_field(object, name);
  return value ? as_object(*value, name) : Json::object();
}

engine::SamplingParams read_sampling_fields(const Json& body, const ServingDefaults& defaults) {
  const engine::GenerationConfig& generation = defaults.generation;
  engine::SamplingParams sampling;
  sampling.n = optional_int(body, "n").value_or(sampling.n);
  sampling.presence_penalty = optional_number(body, "presence_penalty").value_or(sampling.presence_penalty);
  sampling.frequency_penalty = optional_number(body, "frequency_penalty").value_or(sampling.frequency_penalty);
  // vLLM: the request's value, else the model's generation config, else its _DEFAULT_SAMPLING_PARAMS.
  sampling.repetition_penalty =
      optional_number(body, "repetition_penalty").value_or(generation.repetition_penalty.value_or(sampling.repetition_penalty));
  sampling.temperature = optional_number(body, "temperature").value_or(generation.temperature.value_or(sampling.temperature));
  sampling.top_p = optional_number(body, "top_p").value_or(generation.top_p.value_or(sampling.top_p));
  sampling.top_k = optional_int(body, "top_k").value_or(generation.top_k ? to_int(*generation.top_k) : sampling.top_k);
  sampling.min_p = optional_number(body, "min_p").value_or(generation.min_p.value_or(sampling.min_p));
  // seed is an int64 (vLLM: ge=torch.long min, le=max); negative seeds are valid and kept bit for bit.
  if (const auto seed = optional_int64(body, "seed")) sampling.seed = static_cast<std::uint64_t>(*seed);
  sampling.stop = optional_string_or_list(body, "stop").value_or(std::vector<std::string>{});
  if (const Json* ids = find_field(body, "stop_token_ids")) {
    as_array(*ids, "stop_token_ids");
    for (std::size_t i = 0; i < ids->size(); ++i) {
      const std::string name = fmt::format("stop_token_ids[{}]", i);
      const std::int64_t id = as_int64((*ids)[i], name);
      // Negative ids reach SamplingParams::validate, which answers with vLLM's out-of-vocab message.
      if (id < std::numeric_limits<engine::TokenId>::min() || id > std::numeric_limits<engine::TokenId>::max())
        fail_field("stop_token_ids", fmt::format("token_id(s) [{}] in stop_token_ids contain out-of-vocab token ids.", id));
      sampling.stop_token_ids.push_back(static_cast<engine::TokenId>(id));
    }
  }
  sampling.ignore_eos = optional_bool(body, "ignore_eos").value_or(false);
  sampling.min_tokens = optional_int(body, "min_tokens").value_or(0);
  sampling.include_stop_str_in_output = optional_bool(body, "include_stop_str_in_output").value_or(false);
  sampling.skip_special_tokens = optional_bool(body, "skip_special_tokens").value_or(true);
  return sampling;
}

StreamOptions read_stream_options(const Json& body) {
  StreamOptions options;
  options.stream = optional_bool(body, "stream").value_or(false);
  const Json* given = find_field(body, "stream_options");
  if (!given) return options;
  as_object(*given, "stream_options");
  // vLLM tests the raw value's truth, so an empty object passes without stream.
  if (!given->empty() && !options.stream)
    fail_field("stream_options", "Stream options can only be defined when `stream=True`.");
  if (!options.stream) return options;
  // pydantic's Optional[bool] = True: absent means true, an explicit null reads as false.
  const auto include_usage = given->find("include_usage");
  options.include_usage =
      include_usage == given->end() || (!include_usage->is_null() && as_bool(*include_usage, "stream_options.include_usage"));
  const Json* continuous = find_field(*given, "continuous_usage_stats");
  options.continuous_usage_stats =
      (continuous && as_bool(*continuous, "stream_options.continuous_usage_stats")) && options.include_usage;
  return options;
}

void refuse_unsupported_fields(const Json& body, int n) {
  const auto unsupported = [](std::string_view field) {
    fail_field(field, fmt::format("{} is not supported by llmctl.", field));
  };
  if (const auto best_of = optional_int(body, "best_of")) {
    if (*best_of < n)
      fail_field("best_of", fmt::format("best_of must be greater than or equal to n, got n={} and best_of={}.", n, *best_of));
    if (*best_of > 1)
      fail_field("best_of", fmt::format("best_of greater than 1 is not supported (vLLM V1 refuses it too), got {}.", *best_of));
  }
  if (optional_bool(body, "use_beam_search").value_or(false)) unsupported("use_beam_search");
  if (const Json* bias = find_field(body, "logit_bias"); bias && !as_object(*bias, "logit_bias").empty())
    unsupported("logit_bias");
  if (const Json* format = find_field(body, "response_format")) {
    const Json* type = find_field(as_object(*format, "response_format"), "type");
    if (!type) fail_field("response_format", "response_format.type is required.");
    const std::string& kind = as_string(*type, "response_format.type");
    if (kind != "text")
      fail_field("response_format",
           fmt::format("response_format of type \"{}\" needs structured output, which llmctl does not support; only "
                       "{{\"type\": \"text\"}} is accepted.",
                       kind));
  }
  for (const std::string_view field : kStructuredOutputFields)
    if (find_field(body, field))
      fail_field(field, fmt::format("{} needs structured output (guided decoding), which llmctl does not support.", field));
  if (find_field(body, "prompt_logprobs"))
    fail_field("prompt_logprobs", "prompt_logprobs is not supported by llmctl: it does not compute the prompt's logprobs.");
  if (find_field(body, "allowed_token_ids")) unsupported("allowed_token_ids");
  if (const Json* words = find_field(body, "bad_words"); words && !as_array(*words, "bad_words").empty())
    unsupported("bad_words");
  if (const Json* processors = find_field(body, "logits_processors");
      processors && !as_array(*processors, "logits_processors").empty())
    unsupported("logits_processors");
  if (find_field(body, "truncate_prompt_tokens")) unsupported("truncate_prompt_tokens");
  if (optional_bool(body, "return_tokens_as_token_ids").value_or(false)) unsupported("return_tokens_as_token_ids");
  // vLLM's answer when the scheduling policy is fcfs, as llmctl's always is.
  if (const int priority = optional_int(body, "priority").value_or(0); priority != 0)
    fail_field("priority", fmt::format("Got priority {} but Priority scheduling is not enabled.", priority));
}

int cap_max_tokens(int requested, const ServingDefaults& defaults) {
  const auto& cap = defaults.generation.max_new_tokens;
  return cap ? static_cast<int>(std::min<std::int64_t>(requested, *cap)) : requested;
}

void check_logprobs_limit(int logprobs, const ServingDefaults& defaults, std::string_view param) {
  const int limit = defaults.max_logprobs;
  if (limit == -1) return;
  // vLLM counts -1 as the vocabulary size, which is past any cap a deployer sets; the vocabulary is not
  // known here, so the message says what was asked for.
  if (logprobs == -1)
    fail_field(param, fmt::format("Requested sample logprobs of -1 (the whole vocabulary), which is greater than max allowed: {}",
                            limit));
  if (logprobs > limit)
    fail_field(param, fmt::format("Requested sample logprobs of {}, which is greater than max allowed: {}", logprobs, limit));
}

void validate_sampling(const engine::SamplingParams& sampling, std::string_view max_tokens_field) {
  try {
    sampling.validate();
  } catch (const Error& error) {
    // Every message of SamplingParams::validate starts with the field it is about.
    const std::string message = error.what();
    const std::string first_word = message.substr(0, message.find(' '));
    std::string param = first_word;
    if (first_word == "token_id(s)") param = "stop_token_ids";
    if (first_word == "max_tokens") param = std::string(max_tokens_field);
    fail_field(param, message);
  }
}

}  // namespace llmctl::api
