#include "api/request_fields.hpp"

#include "support/api_failure.hpp"

#include <doctest/doctest.h>

#include <limits>

using namespace llmctl::api;
using llmctl::test::api_failure;
using llmctl::test::body;

namespace {

// The failure of reading `text` with `read`, which takes the body.
template <typename Read>
llmctl::test::ApiFailure failure_reading(const char* text, Read read) {
  const Json parsed = body(text);
  return api_failure([&] { read(parsed); });
}

}  // namespace

TEST_CASE("the body must be an object") {
  for (const char* text : {"[]", "\"text\"", "3", "null", "true"}) {
    const auto failure = failure_reading(text, [](const Json& b) { require_object_body(b); });
    CHECK(failure.status == 400);
    CHECK(failure.message == "The request body must be a JSON object");
    CHECK(failure.param.empty());
  }
  CHECK(failure_reading("{}", [](const Json& b) { require_object_body(b); }).status == 0);
}

TEST_CASE("null is the same as absent") {
  const Json b = body(R"({"a": null, "b": 1})");
  CHECK(find_field(b, "a") == nullptr);
  CHECK(find_field(b, "missing") == nullptr);
  REQUIRE(find_field(b, "b") != nullptr);
  CHECK(*find_field(b, "b") == 1);
  CHECK_FALSE(optional_int(b, "a").has_value());
  CHECK_FALSE(optional_string(b, "a").has_value());
  CHECK(optional_object(b, "a") == Json::object());
}

TEST_CASE("integers: 5.0 is 5 as pydantic reads it; fractions, strings and booleans are refused") {
  const Json values = body(R"({"whole": 5.0, "int": -7})");
  CHECK(optional_int(values, "whole") == 5);
  CHECK(optional_int(values, "int") == -7);
  auto failure = failure_reading(R"({"n": 5.5})", [](const Json& b) { optional_int(b, "n"); });
  CHECK(failure.status == 400);
  CHECK(failure.param == "n");
  CHECK(failure.message == "n must be an integer, got 5.5.");
  CHECK(failure_reading(R"({"n": "5"})", [](const Json& b) { optional_int(b, "n"); }).message ==
        "n must be an integer, got a string.");
  CHECK(failure_reading(R"({"n": true})", [](const Json& b) { optional_int(b, "n"); }).message ==
        "n must be an integer, got a boolean.");
  CHECK(failure_reading(R"({"n": [1]})", [](const Json& b) { optional_int(b, "n"); }).message ==
        "n must be an integer, got an array.");
}

TEST_CASE("integers out of range are refused with the range") {
  CHECK(failure_reading(R"({"top_k": 3000000000})", [](const Json& b) { optional_int(b, "top_k"); }).message ==
        "top_k must be between -2147483648 and 2147483647, got 3000000000.");
  CHECK(failure_reading(R"({"top_k": 1e30})", [](const Json& b) { optional_int(b, "top_k"); }).message ==
        "top_k must be between -9223372036854775808 and 9223372036854775807, got 1e+30.");
  CHECK(failure_reading(R"({"seed": 9223372036854775808})", [](const Json& b) { optional_int64(b, "seed"); }).message ==
        "seed must be between -9223372036854775808 and 9223372036854775807, got 9223372036854775808.");
  const Json extremes = body(R"({"max": 9223372036854775807, "min": -9223372036854775808, "float_min": -9223372036854775808.0})");
  CHECK(optional_int64(extremes, "max") == std::numeric_limits<std::int64_t>::max());
  CHECK(optional_int64(extremes, "min") == std::numeric_limits<std::int64_t>::min());
  CHECK(optional_int64(extremes, "float_min") == std::numeric_limits<std::int64_t>::min());
}

TEST_CASE("numbers must be numbers and finite") {
  CHECK(optional_number(body(R"({"t": 1})"), "t") == 1.0);
  CHECK(optional_number(body(R"({"t": 0.25})"), "t") == 0.25);
  const auto failure = failure_reading(R"({"temperature": "hot"})", [](const Json& b) { optional_number(b, "temperature"); });
  CHECK(failure.param == "temperature");
  CHECK(failure.message == "temperature must be a number, got a string.");
  // JSON has no NaN, but a body built in code may hold one.
  Json nan_body = Json::object();
  nan_body["temperature"] = std::numeric_limits<double>::quiet_NaN();
  CHECK(api_failure([&] { optional_number(nan_body, "temperature"); }).message == "temperature must be a finite number, got nan.");
  nan_body["temperature"] = -std::numeric_limits<double>::infinity();
  CHECK(api_failure([&] { optional_number(nan_body, "temperature"); }).message == "temperature must be a finite number, got -inf.");
  nan_body["n"] = std::numeric_limits<double>::infinity();
  CHECK(api_failure([&] { optional_int(nan_body, "n"); }).message == "n must be an integer, got inf.");
}

TEST_CASE("booleans, strings, objects and arrays are checked") {
  CHECK(optional_bool(body(R"({"echo": false})"), "echo") == false);
  CHECK(failure_reading(R"({"echo": 1})", [](const Json& b) { optional_bool(b, "echo"); }).message ==
        "echo must be a boolean, got a number.");
  CHECK(failure_reading(R"({"model": 7})", [](const Json& b) { optional_string(b, "model"); }).message ==
        "model must be a string, got a number.");
  CHECK(failure_reading(R"({"kwargs": []})", [](const Json& b) { optional_object(b, "kwargs"); }).message ==
        "kwargs must be an object, got an array.");
  CHECK(optional_object(body(R"({"kwargs": {"enable_thinking": false}})"), "kwargs") == body(R"({"enable_thinking": false})"));
  CHECK(describe(Json()) == "null");
  CHECK(describe(body("{}")) == "an object");
}

TEST_CASE("a string or a list of strings") {
  CHECK(optional_string_or_list(body(R"({"stop": "END"})"), "stop") == std::vector<std::string>{"END"});
  CHECK(optional_string_or_list(body(R"({"stop": ["a", "b"]})"), "stop") == std::vector<std::string>{"a", "b"});
  CHECK(optional_string_or_list(body(R"({"stop": []})"), "stop") == std::vector<std::string>{});
  auto failure = failure_reading(R"({"stop": ["a", 3]})", [](const Json& b) { optional_string_or_list(b, "stop"); });
  CHECK(failure.param == "stop[1]");
  CHECK(failure.message == "stop[1] must be a string, got a number.");
  CHECK(failure_reading(R"({"stop": {"a": 1}})", [](const Json& b) { optional_string_or_list(b, "stop"); }).message ==
        "stop must be a string or an array of strings, got an object.");
}

TEST_CASE("token ids are non-negative and fit the vocabulary type") {
  CHECK(as_token_id(Json(151643), "tokens[0]") == 151643);
  CHECK(as_token_id(Json(2.0), "tokens[0]") == 2);
  CHECK(api_failure([] { as_token_id(Json(-1), "tokens[3]"); }).message == "Token id -1 is out of vocabulary");
  CHECK(api_failure([] { as_token_id(Json(-1), "tokens[3]"); }).param == "tokens[3]");
  CHECK(api_failure([] { as_token_id(Json(4294967296), "prompt[0]"); }).message == "Token id 4294967296 is out of vocabulary");
}

TEST_CASE("sampling fields: every one read, with vLLM's defaults for the rest") {
  const auto defaults = read_sampling_fields(body("{}"), ServingDefaults{});
  CHECK(defaults.n == 1);
  CHECK(defaults.temperature == 1.0);
  CHECK(defaults.top_p == 1.0);
  CHECK(defaults.top_k == 0);
  CHECK(defaults.min_p == 0.0);
  CHECK(defaults.repetition_penalty == 1.0);
  CHECK(defaults.presence_penalty == 0.0);
  CHECK_FALSE(defaults.seed.has_value());
  CHECK(defaults.stop.empty());
  CHECK(defaults.skip_special_tokens);

  const auto sampling = read_sampling_fields(body(R"({
      "n": 3, "temperature": 0.7, "top_p": 0.9, "top_k": 40, "min_p": 0.05, "presence_penalty": 0.5,
      "frequency_penalty": -0.5, "repetition_penalty": 1.1, "seed": -1, "stop": "###", "stop_token_ids": [2, 3.0],
      "ignore_eos": true, "min_tokens": 4, "include_stop_str_in_output": true, "skip_special_tokens": false})"),
                                             ServingDefaults{});
  CHECK(sampling.n == 3);
  CHECK(sampling.temperature == 0.7);
  CHECK(sampling.top_p == 0.9);
  CHECK(sampling.top_k == 40);
  CHECK(sampling.min_p == 0.05);
  CHECK(sampling.presence_penalty == 0.5);
  CHECK(sampling.frequency_penalty == -0.5);
  CHECK(sampling.repetition_penalty == 1.1);
  CHECK(sampling.seed == std::numeric_limits<std::uint64_t>::max());  // -1 as int64, bit for bit
  CHECK(sampling.stop == std::vector<std::string>{"###"});
  CHECK(sampling.stop_token_ids == std::vector<llmctl::engine::TokenId>{2, 3});
  CHECK(sampling.ignore_eos);
  CHECK(sampling.min_tokens == 4);
  CHECK(sampling.include_stop_str_in_output);
  CHECK_FALSE(sampling.skip_special_tokens);
}

TEST_CASE("sampling fields: the generation config fills what the request leaves unset, and only that") {
  ServingDefaults defaults;
  defaults.generation.temperature = 0.7;
  defaults.generation.top_p = 0.8;
  defaults.generation.top_k = 20;
  defaults.generation.min_p = 0.1;
  defaults.generation.repetition_penalty = 1.05;
  const auto filled = read_sampling_fields(body("{}"), defaults);
  CHECK(filled.temperature == 0.7);
  CHECK(filled.top_p == 0.8);
  CHECK(filled.top_k == 20);
  CHECK(filled.min_p == 0.1);
  CHECK(filled.repetition_penalty == 1.05);
  const auto chosen = read_sampling_fields(
      body(R"({"temperature": 0, "top_p": 1, "top_k": -1, "min_p": 0, "repetition_penalty": 1.0})"), defaults);
  CHECK(chosen.temperature == 0.0);
  CHECK(chosen.top_p == 1.0);
  CHECK(chosen.top_k == -1);
  CHECK(chosen.min_p == 0.0);
  CHECK(chosen.repetition_penalty == 1.0);
  // null is unset, so the default applies.
  CHECK(read_sampling_fields(body(R"({"temperature": null})"), defaults).temperature == 0.7);
}

TEST_CASE("sampling fields: wrong types name the field") {
  const auto read = [](const Json& b) { read_sampling_fields(b, ServingDefaults{}); };
  auto failure = failure_reading(R"({"top_k": 1.5})", read);
  CHECK(failure.param == "top_k");
  CHECK(failure.message == "top_k must be an integer, got 1.5.");
  failure = failure_reading(R"({"stop_token_ids": "2"})", read);
  CHECK(failure.param == "stop_token_ids");
  CHECK(failure.message == "stop_token_ids must be an array, got a string.");
  failure = failure_reading(R"({"stop_token_ids": [2, "x"]})", read);
  CHECK(failure.param == "stop_token_ids[1]");
  CHECK(failure_reading(R"({"stop_token_ids": [5000000000]})", read).message ==
        "token_id(s) [5000000000] in stop_token_ids contain out-of-vocab token ids.");
  CHECK(failure_reading(R"({"ignore_eos": "yes"})", read).message == "ignore_eos must be a boolean, got a string.");
  CHECK(failure_reading(R"({"seed": 0.5})", read).message == "seed must be an integer, got 0.5.");
}

TEST_CASE("stream options: refused without stream=true, include_usage true once given") {
  CHECK_FALSE(read_stream_options(body("{}")).stream);
  const auto plain = read_stream_options(body(R"({"stream": true})"));
  CHECK(plain.stream);
  CHECK_FALSE(plain.include_usage);
  CHECK_FALSE(plain.continuous_usage_stats);
  const auto given = read_stream_options(body(R"({"stream": true, "stream_options": {}})"));
  CHECK(given.include_usage);
  CHECK_FALSE(given.continuous_usage_stats);
  const auto continuous = read_stream_options(body(R"({"stream": true, "stream_options": {"continuous_usage_stats": true}})"));
  CHECK(continuous.include_usage);
  CHECK(continuous.continuous_usage_stats);
  // continuous usage needs include_usage (vLLM's should_include_usage); an explicit null is false.
  const auto off = read_stream_options(
      body(R"({"stream": true, "stream_options": {"include_usage": false, "continuous_usage_stats": true}})"));
  CHECK_FALSE(off.include_usage);
  CHECK_FALSE(off.continuous_usage_stats);
  CHECK_FALSE(read_stream_options(body(R"({"stream": true, "stream_options": {"include_usage": null}})")).include_usage);

  for (const char* text : {R"({"stream_options": {"include_usage": true}})",
                           R"({"stream": false, "stream_options": {"include_usage": false}})"}) {
    const auto failure = failure_reading(text, [](const Json& b) { read_stream_options(b); });
    CHECK(failure.status == 400);
    CHECK(failure.param == "stream_options");
    CHECK(failure.message == "Stream options can only be defined when `stream=True`.");
  }
  // vLLM tests the truth of the raw value: an empty object passes, and means nothing without stream.
  const auto empty = read_stream_options(body(R"({"stream_options": {}})"));
  CHECK_FALSE(empty.stream);
  CHECK_FALSE(empty.include_usage);
  CHECK(failure_reading(R"({"stream": true, "stream_options": true})", [](const Json& b) { read_stream_options(b); }).message ==
        "stream_options must be an object, got a boolean.");
  CHECK(failure_reading(R"({"stream": true, "stream_options": {"include_usage": "yes"}})", [](const Json& b) {
          read_stream_options(b);
        }).param == "stream_options.include_usage");
  CHECK(failure_reading(R"({"stream": "yes"})", [](const Json& b) { read_stream_options(b); }).message ==
        "stream must be a boolean, got a string.");
}

TEST_CASE("unsupported fields are refused when they carry a value, and pass when they do not") {
  const auto refuse = [](const char* text, int n = 1) {
    const Json parsed = body(text);
    return api_failure([&] { refuse_unsupported_fields(parsed, n); });
  };
  CHECK(refuse(R"({"use_beam_search": false, "logit_bias": {}, "response_format": {"type": "text"},
                  "guided_json": null, "prompt_logprobs": null, "allowed_token_ids": null, "bad_words": [],
                  "logits_processors": [], "truncate_prompt_tokens": null, "return_tokens_as_token_ids": false,
                  "priority": 0, "best_of": 1, "length_penalty": 2.0, "user": "u", "unknown_field": [1, 2]})")
            .status == 0);

  auto failure = refuse(R"({"best_of": 2})");
  CHECK(failure.param == "best_of");
  CHECK(failure.message == "best_of greater than 1 is not supported (vLLM V1 refuses it too), got 2.");
  CHECK(refuse(R"({"best_of": 1})", 2).message == "best_of must be greater than or equal to n, got n=2 and best_of=1.");
  CHECK(refuse(R"({"use_beam_search": true})").message == "use_beam_search is not supported by llmctl.");
  CHECK(refuse(R"({"logit_bias": {"50256": -100}})").param == "logit_bias");
  CHECK(refuse(R"({"logit_bias": [1]})").message == "logit_bias must be an object, got an array.");
  failure = refuse(R"({"response_format": {"type": "json_object"}})");
  CHECK(failure.param == "response_format");
  CHECK(failure.message ==
        "response_format of type \"json_object\" needs structured output, which llmctl does not support; only "
        "{\"type\": \"text\"} is accepted.");
  CHECK(refuse(R"({"response_format": {}})").message == "response_format.type is required.");
  CHECK(refuse(R"({"response_format": "text"})").message == "response_format must be an object, got a string.");
  for (const char* field : {"guided_json", "guided_regex", "guided_choice", "guided_grammar", "structural_tag", "structured_outputs"}) {
    const std::string text = std::string(R"({")") + field + R"(": "x"})";
    failure = refuse(text.c_str());
    CHECK(failure.param == field);
    CHECK(failure.message == std::string(field) + " needs structured output (guided decoding), which llmctl does not support.");
  }
  CHECK(refuse(R"({"prompt_logprobs": 0})").param == "prompt_logprobs");
  CHECK(refuse(R"({"allowed_token_ids": []})").message == "allowed_token_ids is not supported by llmctl.");
  CHECK(refuse(R"({"bad_words": ["x"]})").message == "bad_words is not supported by llmctl.");
  CHECK(refuse(R"({"logits_processors": ["my.Processor"]})").param == "logits_processors");
  CHECK(refuse(R"({"truncate_prompt_tokens": 10})").param == "truncate_prompt_tokens");
  CHECK(refuse(R"({"return_tokens_as_token_ids": true})").param == "return_tokens_as_token_ids");
  CHECK(refuse(R"({"priority": 1})").message == "Got priority 1 but Priority scheduling is not enabled.");
}

TEST_CASE("max_tokens is capped by the generation config's max_new_tokens") {
  ServingDefaults defaults;
  CHECK(cap_max_tokens(5000, defaults) == 5000);
  defaults.generation.max_new_tokens = 2048;
  CHECK(cap_max_tokens(5000, defaults) == 2048);
  CHECK(cap_max_tokens(16, defaults) == 16);
  CHECK(cap_max_tokens(-3, defaults) == -3);  // left for SamplingParams::validate to refuse
}

TEST_CASE("logprobs past --max-logprobs get vLLM's message; -1 there means no cap") {
  ServingDefaults defaults;
  CHECK(api_failure([&] { check_logprobs_limit(20, defaults, "logprobs"); }).status == 0);
  auto failure = api_failure([&] { check_logprobs_limit(21, defaults, "top_logprobs"); });
  CHECK(failure.status == 400);
  CHECK(failure.param == "top_logprobs");
  CHECK(failure.message == "Requested sample logprobs of 21, which is greater than max allowed: 20");
  CHECK(api_failure([&] { check_logprobs_limit(-1, defaults, "top_logprobs"); }).message ==
        "Requested sample logprobs of -1 (the whole vocabulary), which is greater than max allowed: 20");
  defaults.max_logprobs = -1;
  CHECK(api_failure([&] { check_logprobs_limit(100000, defaults, "logprobs"); }).status == 0);
  CHECK(api_failure([&] { check_logprobs_limit(-1, defaults, "logprobs"); }).status == 0);
}

TEST_CASE("SamplingParams' own checks become 400s naming their field") {
  llmctl::engine::SamplingParams sampling;
  CHECK(api_failure([&] { validate_sampling(sampling); }).status == 0);
  sampling.temperature = 3.0;
  auto failure = api_failure([&] { validate_sampling(sampling); });
  CHECK(failure.status == 400);
  CHECK(failure.param == "temperature");
  CHECK(failure.message == "temperature must be in [0, 2], got 3.0.");
  sampling = {};
  sampling.max_tokens = 0;
  failure = api_failure([&] { validate_sampling(sampling, "max_completion_tokens"); });
  CHECK(failure.param == "max_completion_tokens");
  CHECK(failure.message == "max_tokens must be at least 1, got 0.");
  sampling = {};
  sampling.stop_token_ids = {-5};
  CHECK(api_failure([&] { validate_sampling(sampling); }).param == "stop_token_ids");
  sampling = {};
  sampling.stop = {""};
  CHECK(api_failure([&] { validate_sampling(sampling); }).param == "stop");
  sampling = {};
  sampling.n = 2;
  sampling.temperature = 0.0;
  failure = api_failure([&] { validate_sampling(sampling); });
  CHECK(failure.param == "n");
  CHECK(failure.message == "n must be 1 when using greedy sampling, got 2.");
}
