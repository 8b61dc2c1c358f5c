#include "api/tokenize_request.hpp"

#include "support/api_failure.hpp"

#include <doctest/doctest.h>

using namespace llmctl::api;
using llmctl::test::api_failure;
using llmctl::test::body;

namespace {

llmctl::test::ApiFailure tokenize_failure(const char* text) {
  const auto parsed = body(text);
  return api_failure([&] { parse_tokenize_request(parsed); });
}

llmctl::test::ApiFailure detokenize_failure(const char* text) {
  const auto parsed = body(text);
  return api_failure([&] { parse_detokenize_request(parsed); });
}

}  // namespace

TEST_CASE("tokenize a prompt: add_special_tokens defaults to true") {
  auto request = parse_tokenize_request(body(R"({"model": "m", "prompt": "Hello world", "return_token_strs": true})"));
  CHECK(request.model == "m");
  CHECK(request.prompt == "Hello world");
  CHECK(request.messages.is_null());
  CHECK(request.add_special_tokens);
  CHECK(request.return_token_strs);
  request = parse_tokenize_request(body(R"({"prompt": "", "add_special_tokens": false})"));
  CHECK(request.prompt == "");
  CHECK_FALSE(request.add_special_tokens);
  CHECK_FALSE(request.return_token_strs);
}

TEST_CASE("tokenize messages: checked as for chat, add_special_tokens defaults to false") {
  const auto request = parse_tokenize_request(body(R"({
      "messages": [{"role": "user", "content": [{"type": "text", "text": "a"}, {"type": "text", "text": "b"}]}],
      "tools": [{"function": {"name": "f"}}], "add_generation_prompt": false, "chat_template": "{{ 1 }}",
      "chat_template_kwargs": {"enable_thinking": true}})"));
  CHECK_FALSE(request.prompt.has_value());
  CHECK(request.messages.dump() == R"([{"role":"user","content":"a\nb"}])");
  CHECK(request.tools.dump() == R"([{"type":"function","function":{"name":"f","description":null,"parameters":null}}])");
  CHECK_FALSE(request.add_special_tokens);
  CHECK_FALSE(request.add_generation_prompt);
  CHECK_FALSE(request.continue_final_message);
  CHECK(request.chat_template == "{{ 1 }}");
  CHECK(request.chat_template_kwargs.dump() == R"({"enable_thinking":true})");
  const auto defaults = parse_tokenize_request(body(R"({"messages": [{"role": "user", "content": "x"}]})"));
  CHECK(defaults.add_generation_prompt);
  CHECK(defaults.tools.is_null());
  CHECK(defaults.chat_template_kwargs == nlohmann::ordered_json::object());
  const auto continued =
      parse_tokenize_request(body(R"({"messages": [{"role": "assistant", "content": "x"}], "continue_final_message": true})"));
  CHECK(continued.continue_final_message);
  CHECK_FALSE(continued.add_generation_prompt);
}

TEST_CASE("tokenize: bad bodies are 400s naming the field") {
  const struct {
    const char* body;
    const char* param;
    const char* message;
  } cases[] = {
      {R"({})", "prompt", "Either `prompt` or `messages` is required."},
      {R"({"prompt": null, "messages": null})", "prompt", "Either `prompt` or `messages` is required."},
      {R"({"prompt": "a", "messages": [{"role": "user", "content": "b"}]})", "prompt",
       "Give either `prompt` or `messages`, not both."},
      {R"({"prompt": [1, 2]})", "prompt", "prompt must be a string, got an array."},
      {R"({"prompt": "a", "add_special_tokens": "no"})", "add_special_tokens", "add_special_tokens must be a boolean, got a string."},
      {R"({"prompt": "a", "return_token_strs": 1})", "return_token_strs", "return_token_strs must be a boolean, got a number."},
      {R"({"messages": []})", "messages", "messages must not be empty."},
      {R"({"messages": [{"content": "x"}]})", "messages[0].role", "messages[0].role is required."},
      {R"({"messages": [{"role": "user", "content": "x"}], "tools": [{}]})", "tools[0].function", "tools[0].function is required."},
      {R"({"messages": [{"role": "user", "content": "x"}], "continue_final_message": true, "add_generation_prompt": true})",
       "continue_final_message", "Cannot set both `continue_final_message` and `add_generation_prompt` to True."},
      {R"({"messages": [{"role": "user", "content": "x"}], "chat_template_kwargs": []})", "chat_template_kwargs",
       "chat_template_kwargs must be an object, got an array."},
  };
  for (const auto& c : cases) {
    CAPTURE(c.body);
    const auto failure = tokenize_failure(c.body);
    CHECK(failure.status == 400);
    CHECK(failure.param == c.param);
    CHECK(failure.message == c.message);
  }
  CHECK(tokenize_failure("[1]").message == "The request body must be a JSON object");
}

TEST_CASE("detokenize: a list of non-negative token ids") {
  const auto request = parse_detokenize_request(body(R"({"model": "m", "tokens": [9707, 1879, 0, 5.0]})"));
  CHECK(request.model == "m");
  CHECK(request.tokens == std::vector<TokenId>{9707, 1879, 0, 5});
  CHECK(parse_detokenize_request(body(R"({"tokens": []})")).tokens.empty());
}

TEST_CASE("detokenize: bad bodies are 400s naming the field") {
  const struct {
    const char* body;
    const char* param;
    const char* message;
  } cases[] = {
      {R"({})", "tokens", "tokens is required."},
      {R"({"tokens": "1 2"})", "tokens", "tokens must be an array, got a string."},
      {R"({"tokens": [1, -1]})", "tokens[1]", "Token id -1 is out of vocabulary"},
      {R"({"tokens": [1.5]})", "tokens[0]", "tokens[0] must be an integer, got 1.5."},
      {R"({"tokens": ["1"]})", "tokens[0]", "tokens[0] must be an integer, got a string."},
      {R"({"tokens": [99999999999]})", "tokens[0]", "Token id 99999999999 is out of vocabulary"},
      {R"({"tokens": [1], "model": false})", "model", "model must be a string, got a boolean."},
  };
  for (const auto& c : cases) {
    CAPTURE(c.body);
    const auto failure = detokenize_failure(c.body);
    CHECK(failure.status == 400);
    CHECK(failure.param == c.param);
    CHECK(failure.message == c.message);
  }
  CHECK(detokenize_failure("null").message == "The request body must be a JSON object");
}
