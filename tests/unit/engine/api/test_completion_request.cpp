#include "api/completion_request.hpp"

#include "support/api_failure.hpp"

#include <doctest/doctest.h>

using namespace llmctl::api;
using llmctl::test::api_failure;
using llmctl::test::body;

namespace {

CompletionRequest parse(const char* text, const ServingDefaults& defaults = {}) {
  return parse_completion_request(body(text), defaults);
}

llmctl::test::ApiFailure failure_of(const char* text, const ServingDefaults& defaults = {}) {
  const auto parsed = body(text);
  return api_failure([&] { parse_completion_request(parsed, defaults); });
}

using Ids = std::vector<TokenId>;

}  // namespace

TEST_CASE("a completion body with every honoured field") {
  const auto request = parse(R"({
      "model": "Qwen/Qwen2.5-7B-Instruct", "prompt": "Once upon a time", "max_tokens": 64, "n": 2,
      "temperature": 0.8, "top_p": 0.95, "top_k": 50, "min_p": 0.01, "presence_penalty": 0.1,
      "frequency_penalty": 0.2, "repetition_penalty": 1.1, "seed": 42, "stop": ["\n\n", "END"],
      "stop_token_ids": [151643], "ignore_eos": true, "min_tokens": 8, "include_stop_str_in_output": true,
      "skip_special_tokens": false, "logprobs": 5, "stream": true, "stream_options": {"include_usage": true,
      "continuous_usage_stats": true}, "echo": false, "add_special_tokens": false, "user": "someone",
      "spaces_between_special_tokens": true, "not_a_vllm_field": {"ignored": true}})");
  CHECK(request.model == "Qwen/Qwen2.5-7B-Instruct");
  REQUIRE(request.prompts.size() == 1);
  CHECK(std::get<std::string>(request.prompts[0]) == "Once upon a time");
  const auto& s = request.sampling;
  CHECK(s.max_tokens == 64);
  CHECK(s.n == 2);
  CHECK(s.temperature == 0.8);
  CHECK(s.top_p == 0.95);
  CHECK(s.top_k == 50);
  CHECK(s.min_p == 0.01);
  CHECK(s.presence_penalty == 0.1);
  CHECK(s.frequency_penalty == 0.2);
  CHECK(s.repetition_penalty == 1.1);
  CHECK(s.seed == 42u);
  CHECK(s.stop == std::vector<std::string>{"\n\n", "END"});
  CHECK(s.stop_token_ids == Ids{151643});
  CHECK(s.ignore_eos);
  CHECK(s.min_tokens == 8);
  CHECK(s.include_stop_str_in_output);
  CHECK_FALSE(s.skip_special_tokens);
  CHECK(s.logprobs == 5);
  CHECK(request.stream.stream);
  CHECK(request.stream.include_usage);
  CHECK(request.stream.continuous_usage_stats);
  CHECK_FALSE(request.echo);
  CHECK_FALSE(request.add_special_tokens);
}

TEST_CASE("completion defaults are vLLM's: max_tokens 16, add_special_tokens, no logprobs, no stream") {
  const auto request = parse(R"({"prompt": "hi"})");
  CHECK_FALSE(request.model.has_value());
  CHECK(request.sampling.max_tokens == 16);
  CHECK(request.sampling.n == 1);
  CHECK(request.sampling.temperature == 1.0);
  CHECK_FALSE(request.sampling.logprobs.has_value());
  CHECK_FALSE(request.sampling.seed.has_value());
  CHECK_FALSE(request.stream.stream);
  CHECK_FALSE(request.echo);
  CHECK(request.add_special_tokens);
  // null is unset: the default applies.
  CHECK(parse(R"({"prompt": "hi", "max_tokens": null, "logprobs": null, "stop": null})").sampling.max_tokens == 16);
}

TEST_CASE("the generation config fills unset sampling fields and caps max_tokens") {
  ServingDefaults defaults;
  defaults.generation.temperature = 0.7;
  defaults.generation.top_p = 0.8;
  defaults.generation.top_k = 20;
  defaults.generation.repetition_penalty = 1.05;
  defaults.generation.max_new_tokens = 100;
  auto request = parse(R"({"prompt": "hi", "top_p": 0.5})", defaults);
  CHECK(request.sampling.temperature == 0.7);
  CHECK(request.sampling.top_p == 0.5);
  CHECK(request.sampling.top_k == 20);
  CHECK(request.sampling.repetition_penalty == 1.05);
  CHECK(request.sampling.max_tokens == 16);
  CHECK(parse(R"({"prompt": "hi", "max_tokens": 5000})", defaults).sampling.max_tokens == 100);
}

TEST_CASE("prompt: a string, strings, token ids, or lists of token ids") {
  auto request = parse(R"({"prompt": ["a", "b", ""]})");
  REQUIRE(request.prompts.size() == 3);
  CHECK(std::get<std::string>(request.prompts[1]) == "b");
  CHECK(std::get<std::string>(request.prompts[2]).empty());
  request = parse(R"({"prompt": [1, 2, 3.0]})");
  REQUIRE(request.prompts.size() == 1);
  CHECK(std::get<Ids>(request.prompts[0]) == Ids{1, 2, 3});
  request = parse(R"({"prompt": [[1, 2], [3]]})");
  REQUIRE(request.prompts.size() == 2);
  CHECK(std::get<Ids>(request.prompts[0]) == Ids{1, 2});
  CHECK(std::get<Ids>(request.prompts[1]) == Ids{3});
}

TEST_CASE("prompt: missing, empty, mixed or negative is a 400 naming prompt") {
  const std::string shape = "prompt must be a string, array of strings, array of tokens, or array of token arrays";
  const struct {
    const char* body;
    std::string message;
  } cases[] = {
      {R"({})", "At least one of `prompt` or `prompt_embeds` must be set."},
      {R"({"prompt": null})", "At least one of `prompt` or `prompt_embeds` must be set."},
      {R"({"prompt": []})", "please provide at least one prompt"},
      {R"({"prompt": [[]]})", "please provide at least one prompt"},
      {R"({"prompt": [[1], []]})", "please provide at least one prompt"},
      {R"({"prompt": ["a", 1]})", shape},
      {R"({"prompt": [1, "a"]})", shape},
      {R"({"prompt": [[1], 2]})", shape},
      {R"({"prompt": [[1, "a"]]})", shape},
      {R"({"prompt": [true]})", shape},
      {R"({"prompt": [{"text": "a"}]})", shape},
      {R"({"prompt": 5})", shape},
      {R"({"prompt": {"text": "a"}})", shape},
      {R"({"prompt": [1, -2]})", "Token id -2 is out of vocabulary"},
      {R"({"prompt": [[3000000000]]})", "Token id 3000000000 is out of vocabulary"},
  };
  for (const auto& c : cases) {
    CAPTURE(c.body);
    const auto failure = failure_of(c.body);
    CHECK(failure.status == 400);
    CHECK(failure.param.rfind("prompt", 0) == 0);
    CHECK(failure.message == c.message);
  }
  const auto fraction = failure_of(R"({"prompt": [1, 2.5]})");
  CHECK(fraction.param == "prompt[1]");
  CHECK(fraction.message == "prompt[1] must be an integer, got 2.5.");
}

TEST_CASE("max_tokens: vLLM's SamplingParams messages for zero and negatives, a range for huge values") {
  auto failure = failure_of(R"({"prompt": "x", "max_tokens": 0})");
  CHECK(failure.status == 400);
  CHECK(failure.param == "max_tokens");
  CHECK(failure.message == "max_tokens must be at least 1, got 0.");
  CHECK(failure_of(R"({"prompt": "x", "max_tokens": -5})").message == "max_tokens must be at least 1, got -5.");
  CHECK(failure_of(R"({"prompt": "x", "max_tokens": 1e12})").message ==
        "max_tokens must be between -2147483648 and 2147483647, got 1000000000000.");
  CHECK(failure_of(R"({"prompt": "x", "max_tokens": "16"})").message == "max_tokens must be an integer, got a string.");
  failure = failure_of(R"({"prompt": "x", "max_tokens": 0, "echo": true})");
  CHECK(failure.param == "max_tokens");
  CHECK(failure.message == "max_tokens 0 with echo (the prompt alone, nothing generated) is not supported by llmctl.");
  CHECK(failure_of(R"({"prompt": "x", "max_tokens": 4, "min_tokens": 5})").message ==
        "min_tokens must be less than or equal to max_tokens=4, got 5.");
}

TEST_CASE("logprobs: an int from 0 to --max-logprobs; echo with logprobs needs prompt logprobs") {
  CHECK(parse(R"({"prompt": "x", "logprobs": 0})").sampling.logprobs == 0);
  CHECK(parse(R"({"prompt": "x", "logprobs": 20})").sampling.logprobs == 20);
  auto failure = failure_of(R"({"prompt": "x", "logprobs": 21})");
  CHECK(failure.param == "logprobs");
  CHECK(failure.message == "Requested sample logprobs of 21, which is greater than max allowed: 20");
  ServingDefaults uncapped;
  uncapped.max_logprobs = -1;
  CHECK(parse(R"({"prompt": "x", "logprobs": 1000})", uncapped).sampling.logprobs == 1000);
  CHECK(failure_of(R"({"prompt": "x", "logprobs": -1})").message == "`logprobs` must be a positive value.");
  CHECK(failure_of(R"({"prompt": "x", "logprobs": true})").message == "logprobs must be an integer, got a boolean.");
  failure = failure_of(R"({"prompt": "x", "echo": true, "logprobs": 1})");
  CHECK(failure.param == "echo");
  CHECK(failure.message == "echo with logprobs needs the prompt's logprobs, which llmctl does not compute.");
  const auto echo = parse(R"({"prompt": "x", "echo": true})");
  CHECK(echo.echo);
  CHECK_FALSE(echo.sampling.logprobs.has_value());
}

TEST_CASE("completion: bad sampling values get vLLM's messages and name their field") {
  const struct {
    const char* body;
    const char* param;
    const char* message;
  } cases[] = {
      {R"({"prompt": "x", "temperature": -1})", "temperature", "temperature must be non-negative, got -1.0."},
      {R"({"prompt": "x", "temperature": 2.5})", "temperature", "temperature must be in [0, 2], got 2.5."},
      {R"({"prompt": "x", "top_p": 0})", "top_p", "top_p must be in (0, 1], got 0.0."},
      {R"({"prompt": "x", "top_k": -2})", "top_k", "top_k must be 0 (disable), or at least 1, got -2."},
      {R"({"prompt": "x", "min_p": 1.5})", "min_p", "min_p must be in [0, 1], got 1.5."},
      {R"({"prompt": "x", "n": 0})", "n", "n must be at least 1, got 0."},
      {R"({"prompt": "x", "presence_penalty": 3})", "presence_penalty", "presence_penalty must be in [-2, 2], got 3.0."},
      {R"({"prompt": "x", "repetition_penalty": 0})", "repetition_penalty",
       "repetition_penalty must be greater than zero, got 0.0."},
      {R"({"prompt": "x", "stop": ""})", "stop", "stop cannot contain an empty string."},
      {R"({"prompt": "x", "stop_token_ids": [-1]})", "stop_token_ids",
       "token_id(s) [-1] in stop_token_ids contain out-of-vocab token ids."},
      {R"({"prompt": "x", "temperature": 0, "n": 2})", "n", "n must be 1 when using greedy sampling, got 2."},
      {R"({"prompt": "x", "min_tokens": -1})", "min_tokens", "min_tokens must be greater than or equal to 0, got -1."},
      {R"({"prompt": "x", "temperature": "0.5"})", "temperature", "temperature must be a number, got a string."},
      {R"({"prompt": "x", "seed": 1.5})", "seed", "seed must be an integer, got 1.5."},
      {R"({"prompt": "x", "echo": "yes"})", "echo", "echo must be a boolean, got a string."},
      {R"({"prompt": "x", "model": 3})", "model", "model must be a string, got a number."},
  };
  for (const auto& c : cases) {
    CAPTURE(c.body);
    const auto failure = failure_of(c.body);
    CHECK(failure.status == 400);
    CHECK(failure.param == c.param);
    CHECK(failure.message == c.message);
  }
}

TEST_CASE("completion: unsupported fields with a value are refused") {
  auto failure = failure_of(R"({"prompt": "x", "suffix": "end"})");
  CHECK(failure.param == "suffix");
  CHECK(failure.message == "suffix is not currently supported");
  CHECK(failure_of(R"({"prompt_embeds": "AAAA"})").param == "prompt_embeds");
  CHECK(failure_of(R"({"prompt": "x", "best_of": 3, "n": 1})").param == "best_of");
  CHECK(failure_of(R"({"prompt": "x", "use_beam_search": true})").param == "use_beam_search");
  CHECK(failure_of(R"({"prompt": "x", "response_format": {"type": "json_object"}})").param == "response_format");
  CHECK(failure_of(R"({"prompt": "x", "guided_regex": "[a-z]+"})").param == "guided_regex");
  CHECK(failure_of(R"({"prompt": "x", "stream_options": {"include_usage": true}})").message ==
        "Stream options can only be defined when `stream=True`.");
  CHECK(failure_of(R"({"prompt": "x", "suffix": null, "best_of": 1, "logit_bias": null})").status == 0);
}

TEST_CASE("the body must be a JSON object") {
  const auto failure = failure_of(R"(["prompt"])");
  CHECK(failure.status == 400);
  CHECK(failure.message == "The request body must be a JSON object");
  // A nlohmann::json body converts (its keys sorted).
  CHECK(parse_completion_request(nlohmann::json::parse(R"({"prompt": "x", "max_tokens": 3})"), {}).sampling.max_tokens == 3);
}
