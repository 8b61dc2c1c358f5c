#include "api/chat_request.hpp"

#include "support/api_failure.hpp"
#include "support/test_files.hpp"
#include "tokenizer/chat_template.hpp"
#include "tokenizer/tokenizer_config.hpp"

#include <doctest/doctest.h>

#include <limits>

using namespace llmctl::api;
using llmctl::test::api_failure;
using llmctl::test::body;
using nlohmann::ordered_json;

namespace {

ChatRequest parse(const char* text, const ServingDefaults& defaults = {}) { return parse_chat_request(body(text), defaults); }

llmctl::test::ApiFailure failure_of(const char* text, const ServingDefaults& defaults = {}) {
  const auto parsed = body(text);
  return api_failure([&] { parse_chat_request(parsed, defaults); });
}

constexpr const char* kWeatherTool =
    R"({"type": "function", "function": {"name": "get_weather", )"
    R"("parameters": {"type": "object", "properties": {"city": {"type": "string"}}}}})";

std::string with_tools(const std::string& rest) {
  return std::string(R"({"messages": [{"role": "user", "content": "hi"}], "tools": [)") + kWeatherTool + "]" + rest + "}";
}

}  // namespace

TEST_CASE("a chat body with every honoured field") {
  const auto request = parse(R"({
      "model": "m", "messages": [{"role": "system", "content": "Be brief."}, {"role": "user", "content": "Hi"}],
      "max_completion_tokens": 100, "max_tokens": 5, "n": 1, "temperature": 0.6, "top_p": 0.9, "top_k": 20,
      "min_p": 0.0, "presence_penalty": 0.5, "frequency_penalty": 0.5, "repetition_penalty": 1.05, "seed": 7,
      "stop": "###", "stop_token_ids": [151645], "ignore_eos": false, "min_tokens": 1, "include_stop_str_in_output": false,
      "skip_special_tokens": true, "logprobs": true, "top_logprobs": 3, "stream": true, "stream_options": {},
      "echo": true, "add_generation_prompt": true, "continue_final_message": false, "add_special_tokens": true,
      "chat_template": "{{ messages[0].content }}", "chat_template_kwargs": {"enable_thinking": false},
      "documents": [{"title": "A", "text": "B"}], "parallel_tool_calls": false, "user": "u", "reasoning_effort": "low"})");
  CHECK(request.model == "m");
  CHECK(request.messages.dump() == R"([{"role":"system","content":"Be brief."},{"role":"user","content":"Hi"}])");
  CHECK(request.tools.is_null());
  CHECK(request.tool_choice == ToolChoice::none);
  CHECK(request.max_tokens == 100);
  CHECK(request.sampling.max_tokens == 100);
  CHECK(request.sampling.temperature == 0.6);
  CHECK(request.sampling.top_k == 20);
  CHECK(request.sampling.seed == 7u);
  CHECK(request.sampling.stop == std::vector<std::string>{"###"});
  CHECK(request.sampling.stop_token_ids == std::vector<TokenId>{151645});
  CHECK(request.sampling.min_tokens == 1);
  CHECK(request.logprobs);
  CHECK(request.sampling.logprobs == 3);
  CHECK(request.stream.stream);
  CHECK(request.stream.include_usage);
  CHECK(request.echo);
  CHECK(request.add_generation_prompt);
  CHECK_FALSE(request.continue_final_message);
  CHECK(request.add_special_tokens);
  CHECK(request.chat_template == "{{ messages[0].content }}");
  CHECK(request.chat_template_kwargs.dump() == R"({"enable_thinking":false})");
  CHECK(request.documents.dump() == R"([{"title":"A","text":"B"}])");
}

TEST_CASE("chat defaults are vLLM's") {
  const auto request = parse(R"({"messages": [{"role": "user", "content": "Hi"}]})");
  CHECK_FALSE(request.model.has_value());
  CHECK_FALSE(request.max_tokens.has_value());
  CHECK(request.sampling.max_tokens == std::numeric_limits<int>::max());  // the server clamps it to the context
  CHECK_FALSE(request.logprobs);
  CHECK_FALSE(request.sampling.logprobs.has_value());
  CHECK_FALSE(request.stream.stream);
  CHECK_FALSE(request.echo);
  CHECK(request.add_generation_prompt);
  CHECK_FALSE(request.continue_final_message);
  CHECK_FALSE(request.add_special_tokens);
  CHECK_FALSE(request.chat_template.has_value());
  CHECK(request.chat_template_kwargs == ordered_json::object());
  CHECK(request.documents.is_null());
  CHECK(request.tool_choice == ToolChoice::none);
}

TEST_CASE("max_completion_tokens wins over max_tokens; max_new_tokens caps both") {
  CHECK(parse(R"({"messages": [{"role": "user", "content": "x"}], "max_tokens": 30})").max_tokens == 30);
  CHECK(parse(R"({"messages": [{"role": "user", "content": "x"}], "max_tokens": 30, "max_completion_tokens": null})")
            .max_tokens == 30);
  ServingDefaults defaults;
  defaults.generation.max_new_tokens = 512;
  defaults.generation.temperature = 0.7;
  auto request = parse(R"({"messages": [{"role": "user", "content": "x"}], "max_completion_tokens": 4096})", defaults);
  CHECK(request.max_tokens == 4096);  // as sent: vLLM's context check uses it
  CHECK(request.sampling.max_tokens == 512);
  CHECK(request.sampling.temperature == 0.7);
  CHECK(parse(R"({"messages": [{"role": "user", "content": "x"}]})", defaults).sampling.max_tokens == 512);
  auto failure = failure_of(R"({"messages": [{"role": "user", "content": "x"}], "max_completion_tokens": 0, "max_tokens": 9})");
  CHECK(failure.param == "max_completion_tokens");
  CHECK(failure.message == "max_tokens must be at least 1, got 0.");
  failure = failure_of(R"({"messages": [{"role": "user", "content": "x"}], "max_tokens": -1})");
  CHECK(failure.param == "max_tokens");
  CHECK(failure.message == "max_tokens must be at least 1, got -1.");
  CHECK(failure_of(R"({"messages": [{"role": "user", "content": "x"}], "max_tokens": 2, "min_tokens": 3})").message ==
        "min_tokens must be less than or equal to max_tokens=2, got 3.");
}

TEST_CASE("top_logprobs needs logprobs: true, and is capped by --max-logprobs") {
  const char* base = R"({"messages": [{"role": "user", "content": "x"}], )";
  const auto with = [&](const char* rest) { return std::string(base) + rest + "}"; };
  auto request = parse(with(R"("logprobs": true)").c_str());
  CHECK(request.sampling.logprobs == 0);
  request = parse(with(R"("logprobs": false, "top_logprobs": 0)").c_str());
  CHECK_FALSE(request.sampling.logprobs.has_value());
  auto failure = failure_of(with(R"("top_logprobs": 5)").c_str());
  CHECK(failure.status == 400);
  CHECK(failure.param == "top_logprobs");
  CHECK(failure.message == "when using `top_logprobs`, `logprobs` must be set to true.");
  CHECK(failure_of(with(R"("logprobs": false, "top_logprobs": -1)").c_str()).message ==
        "when using `top_logprobs`, `logprobs` must be set to true.");
  CHECK(failure_of(with(R"("logprobs": true, "top_logprobs": -2)").c_str()).message ==
        "`top_logprobs` must be a positive value or -1.");
  CHECK(failure_of(with(R"("logprobs": true, "top_logprobs": 21)").c_str()).message ==
        "Requested sample logprobs of 21, which is greater than max allowed: 20");
  CHECK(failure_of(with(R"("logprobs": true, "top_logprobs": -1)").c_str()).message ==
        "Requested sample logprobs of -1 (the whole vocabulary), which is greater than max allowed: 20");
  ServingDefaults uncapped;
  uncapped.max_logprobs = -1;
  CHECK(parse(with(R"("logprobs": true, "top_logprobs": -1)").c_str(), uncapped).sampling.logprobs == -1);
  CHECK(failure_of(with(R"("logprobs": 1)").c_str()).message == "logprobs must be a boolean, got a number.");
}

TEST_CASE("messages: content parts are joined with newlines, null content is empty, other keys are dropped") {
  const auto request = parse(R"({"messages": [
      {"role": "system", "content": [{"type": "text", "text": "Rule one."}, {"type": "text", "text": "Rule two."}]},
      {"role": "user", "content": ["plain", {"type": "input_text", "text": "input"}, {"type": "text", "text": null},
                                   {"type": "refusal", "refusal": "no"}], "name": "alice", "extra": 1},
      {"role": "assistant", "content": null, "reasoning_content": "thinking...", "name": 5},
      {"role": "developer", "content": []},
      {"role": "user"}]})");
  CHECK(request.messages.dump() ==
        R"([{"role":"system","content":"Rule one.\nRule two."},)"
        R"({"role":"user","content":"plain\ninput\nno","name":"alice"},)"
        R"({"role":"assistant","content":"","reasoning_content":"thinking..."},)"
        R"({"role":"developer","content":""},{"role":"user","content":""}])");
}

TEST_CASE("messages: tool calls keep their fields, with arguments parsed as vLLM does; tool results keep their id") {
  const auto request = parse(R"({"messages": [
      {"role": "user", "content": "Weather in Paris?"},
      {"role": "assistant", "content": null, "tool_calls": [
          {"id": "call_1", "type": "function", "function": {"name": "get_weather", "arguments": "{\"city\": \"Paris\"}"}},
          {"id": "call_2", "type": "function", "function": {"name": "now", "arguments": ""}},
          {"id": "call_3", "type": "function", "function": {"name": "later"}},
          {"id": "call_4", "type": "function", "function": {"name": "obj", "arguments": {"b": 1, "a": 2}}}]},
      {"role": "tool", "tool_call_id": "call_1", "content": "18°C"}]})");
  const auto& calls = request.messages[1]["tool_calls"];
  REQUIRE(calls.size() == 4);
  CHECK(calls[0].dump() == R"({"id":"call_1","type":"function","function":{"name":"get_weather","arguments":{"city":"Paris"}}})");
  CHECK(calls[1]["function"]["arguments"] == ordered_json::object());
  CHECK(calls[2]["function"]["arguments"] == ordered_json::object());
  CHECK(calls[3]["function"]["arguments"].dump() == R"({"b":1,"a":2})");
  CHECK(request.messages[2].dump() == R"({"role":"tool","content":"18°C","tool_call_id":"call_1"})");
}

TEST_CASE("messages: what is not a list of well-formed messages is a 400 naming the place") {
  const struct {
    const char* body;
    const char* param;
    const char* message;
  } cases[] = {
      {R"({})", "messages", "messages is required."},
      {R"({"messages": null})", "messages", "messages is required."},
      {R"({"messages": []})", "messages", "messages must not be empty."},
      {R"({"messages": "hi"})", "messages", "messages must be an array, got a string."},
      {R"({"messages": ["hi"]})", "messages[0]", "messages[0] must be an object, got a string."},
      {R"({"messages": [{"content": "hi"}]})", "messages[0].role", "messages[0].role is required."},
      {R"({"messages": [{"role": 1, "content": "hi"}]})", "messages[0].role", "messages[0].role must be a string, got a number."},
      {R"({"messages": [{"role": "user", "content": 5}]})", "messages[0].content",
       "messages[0].content must be a string, an array of content parts or null, got a number."},
      {R"({"messages": [{"role": "user", "content": [{"type": "image_url", "image_url": {"url": "http://x/a.png"}}]}]})",
       "messages[0].content[0]",
       "messages[0].content[0] has type \"image_url\": llmctl serves text-only models, so content parts must be text."},
      {R"({"messages": [{"role": "user", "content": [{"image_url": "http://x/a.png"}]}]})", "messages[0].content[0]",
       "messages[0].content[0] has type \"image_url\": llmctl serves text-only models, so content parts must be text."},
      {R"({"messages": [{"role": "user", "content": [{"type": "input_audio", "input_audio": {}}]}]})",
       "messages[0].content[0]",
       "messages[0].content[0] has type \"input_audio\": llmctl serves text-only models, so content parts must be text."},
      {R"({"messages": [{"role": "user", "content": [{"text": "hi"}]}]})", "messages[0].content[0].type",
       "Missing 'type' field in multimodal part."},
      {R"({"messages": [{"role": "user", "content": [{"type": "text", "text": 3}]}]})", "messages[0].content[0].text",
       "messages[0].content[0].text must be a string, got a number."},
      {R"({"messages": [{"role": "user", "content": [7]}]})", "messages[0].content[0]",
       "messages[0].content[0] must be an object, got a number."},
      {R"({"messages": [{"role": "assistant", "tool_calls": {}}]})", "messages[0].tool_calls",
       "messages[0].tool_calls must be an array, got an object."},
      {R"({"messages": [{"role": "assistant", "tool_calls": [{"id": "a"}]}]})", "messages[0].tool_calls[0].function",
       "messages[0].tool_calls[0].function is required."},
      {R"({"messages": [{"role": "assistant", "tool_calls": [{"function": {"arguments": "{}"}}]}]})",
       "messages[0].tool_calls[0].function.name", "messages[0].tool_calls[0].function.name is required."},
      {R"({"messages": [{"role": "assistant", "tool_calls": [{"function": {"name": "f", "arguments": "{oops"}}]}]})",
       "messages[0].tool_calls[0].function.arguments",
       "messages[0].tool_calls[0].function.arguments must be a JSON string or an object, got invalid JSON."},
      {R"({"messages": [{"role": "assistant", "tool_calls": [{"function": {"name": "f", "arguments": 3}}]}]})",
       "messages[0].tool_calls[0].function.arguments",
       "messages[0].tool_calls[0].function.arguments must be a JSON string or an object, got a number."},
  };
  for (const auto& c : cases) {
    CAPTURE(c.body);
    const auto failure = failure_of(c.body);
    CHECK(failure.status == 400);
    CHECK(failure.param == c.param);
    CHECK(failure.message == c.message);
  }
}

TEST_CASE("tools are handed over in vLLM's model_dump shape, client key order kept") {
  const auto request = parse(R"({"messages": [{"role": "user", "content": "x"}], "tools": [
      {"function": {"name": "f", "strict": true, "parameters": {"type": "object", "properties": {"z": {}, "a": {}}}}},
      {"type": "function", "function": {"name": "g", "description": "G."}, "cache": "x"}]})");
  CHECK(request.tools.dump() ==
        R"([{"type":"function","function":{"name":"f","description":null,)"
        R"("parameters":{"type":"object","properties":{"z":{},"a":{}}},"strict":true}},)"
        R"({"type":"function","function":{"name":"g","description":"G.","parameters":null},"cache":"x"}])");
  CHECK(request.tool_choice == ToolChoice::automatic);
}

TEST_CASE("tools that are not function definitions are a 400") {
  const struct {
    const char* tools;
    const char* param;
    const char* message;
  } cases[] = {
      {R"({})", "tools", "tools must be an array, got an object."},
      {R"([1])", "tools[0]", "tools[0] must be an object, got a number."},
      {R"([{"type": "retrieval", "function": {"name": "f"}}])", "tools[0].type", "tools[0].type must be \"function\", got \"retrieval\"."},
      {R"([{"type": "function"}])", "tools[0].function", "tools[0].function is required."},
      {R"([{"function": {"description": "d"}}])", "tools[0].function.name", "tools[0].function.name is required."},
      {R"([{"function": {"name": ["f"]}}])", "tools[0].function.name", "tools[0].function.name must be a string, got an array."},
      {R"([{"function": {"name": "f", "parameters": "{}"}}])", "tools[0].function.parameters",
       "tools[0].function.parameters must be an object, got a string."},
      {R"([{"function": {"name": "f", "description": 1}}])", "tools[0].function.description",
       "tools[0].function.description must be a string, got a number."},
  };
  for (const auto& c : cases) {
    CAPTURE(c.tools);
    const std::string text = std::string(R"({"messages": [{"role": "user", "content": "x"}], "tools": )") + c.tools + "}";
    const auto failure = failure_of(text.c_str());
    CHECK(failure.status == 400);
    CHECK(failure.param == c.param);
    CHECK(failure.message == c.message);
  }
}

TEST_CASE("tool_choice: auto with tools, none without; required and named functions need structured output") {
  CHECK(parse(with_tools("").c_str()).tool_choice == ToolChoice::automatic);
  CHECK(parse(with_tools(R"(, "tool_choice": "auto")").c_str()).tool_choice == ToolChoice::automatic);
  CHECK(parse(with_tools(R"(, "tool_choice": "none")").c_str()).tool_choice == ToolChoice::none);
  CHECK(parse(with_tools(R"(, "tool_choice": null)").c_str()).tool_choice == ToolChoice::automatic);
  CHECK(parse(R"({"messages": [{"role": "user", "content": "x"}], "tools": []})").tool_choice == ToolChoice::none);
  CHECK(parse(R"({"messages": [{"role": "user", "content": "x"}], "tool_choice": "none"})").tool_choice == ToolChoice::none);
  // As in vLLM and OpenAI, "required" with an empty tool list is "none" without tools.
  const auto empty_required = parse(R"({"messages": [{"role": "user", "content": "x"}], "tools": [], "tool_choice": "required"})");
  CHECK(empty_required.tool_choice == ToolChoice::none);
  CHECK(empty_required.tools.is_null());

  auto failure = failure_of(with_tools(R"(, "tool_choice": "required")").c_str());
  CHECK(failure.status == 400);
  CHECK(failure.param == "tool_choice");
  CHECK(failure.message ==
        "tool_choice \"required\" needs structured output (guided decoding), which llmctl does not support; use \"auto\" "
        "or \"none\".");
  failure = failure_of(with_tools(R"(, "tool_choice": {"type": "function", "function": {"name": "get_weather"}})").c_str());
  CHECK(failure.param == "tool_choice");
  CHECK(failure.message ==
        "tool_choice naming a function needs structured output (guided decoding), which llmctl does not support; use "
        "\"auto\" or \"none\".");
  CHECK(failure_of(with_tools(R"(, "tool_choice": "any")").c_str()).message ==
        "Invalid value for `tool_choice`: any! Only named tools, \"none\", \"auto\" or \"required\" are supported.");
  CHECK(failure_of(with_tools(R"(, "tool_choice": 1)").c_str()).message ==
        "tool_choice must be a string or an object, got a number.");
  CHECK(failure_of(R"({"messages": [{"role": "user", "content": "x"}], "tool_choice": "auto"})").message ==
        "When using `tool_choice`, `tools` must be set.");
}

TEST_CASE("add_generation_prompt and continue_final_message exclude each other") {
  const auto continued =
      parse(R"({"messages": [{"role": "assistant", "content": "The answer is"}], "continue_final_message": true})");
  CHECK(continued.continue_final_message);
  CHECK_FALSE(continued.add_generation_prompt);
  const auto explicit_flags = parse(R"({"messages": [{"role": "user", "content": "x"}], "add_generation_prompt": false})");
  CHECK_FALSE(explicit_flags.add_generation_prompt);
  const auto failure = failure_of(
      R"({"messages": [{"role": "user", "content": "x"}], "continue_final_message": true, "add_generation_prompt": true})");
  CHECK(failure.status == 400);
  CHECK(failure.param == "continue_final_message");
  CHECK(failure.message == "Cannot set both `continue_final_message` and `add_generation_prompt` to True.");
}

TEST_CASE("chat: template fields, documents and unsupported fields are checked") {
  const struct {
    const char* rest;
    const char* param;
    const char* message;
  } cases[] = {
      {R"("chat_template": 1)", "chat_template", "chat_template must be a string, got a number."},
      {R"("chat_template_kwargs": "x")", "chat_template_kwargs", "chat_template_kwargs must be an object, got a string."},
      {R"("documents": {})", "documents", "documents must be an array, got an object."},
      {R"("documents": [{"title": 1}])", "documents[0].title", "documents[0].title must be a string, got a number."},
      {R"("documents": ["text"])", "documents[0]", "documents[0] must be an object, got a string."},
      {R"("response_format": {"type": "json_schema", "json_schema": {"name": "x"}})", "response_format",
       "response_format of type \"json_schema\" needs structured output, which llmctl does not support; only {\"type\": "
       "\"text\"} is accepted."},
      {R"("structured_outputs": {"choice": ["a"]})", "structured_outputs",
       "structured_outputs needs structured output (guided decoding), which llmctl does not support."},
      {R"("logit_bias": {"1": 5})", "logit_bias", "logit_bias is not supported by llmctl."},
      {R"("best_of": 2)", "best_of", "best_of greater than 1 is not supported (vLLM V1 refuses it too), got 2."},
      {R"("prompt_logprobs": 1)", "prompt_logprobs",
       "prompt_logprobs is not supported by llmctl: it does not compute the prompt's logprobs."},
      {R"("stream_options": {"include_usage": true})", "stream_options",
       "Stream options can only be defined when `stream=True`."},
      {R"("temperature": 2.5)", "temperature", "temperature must be in [0, 2], got 2.5."},
      {R"("seed": 9223372036854775808)", "seed",
       "seed must be between -9223372036854775808 and 9223372036854775807, got 9223372036854775808."},
  };
  for (const auto& c : cases) {
    CAPTURE(c.rest);
    const std::string text = std::string(R"({"messages": [{"role": "user", "content": "x"}], )") + c.rest + "}";
    const auto failure = failure_of(text.c_str());
    CHECK(failure.status == 400);
    CHECK(failure.param == c.param);
    CHECK(failure.message == c.message);
  }
  CHECK(failure_of("[]").message == "The request body must be a JSON object");
}

TEST_CASE("parsed messages and tools render in Qwen2.5's template exactly as vLLM hands them over") {
  const auto request = parse(R"({"messages": [
      {"role": "user", "content": [{"type": "text", "text": "Weather in Paris?"}]},
      {"role": "assistant", "content": null, "tool_calls": [
          {"id": "call_1", "type": "function", "function": {"name": "get_weather", "arguments": "{\"city\": \"Paris\"}"}}]},
      {"role": "tool", "tool_call_id": "call_1", "content": "18°C"}],
      "tools": [{"type": "function", "function": {"name": "get_weather",
                 "parameters": {"type": "object", "properties": {"city": {"type": "string"}}}}}]})");
  const auto config = llmctl::engine::load_tokenizer_config(llmctl::test::kTokenizerFiles / "qwen2_5");
  const auto chat_template = llmctl::engine::ChatTemplate::for_model(config, std::nullopt);
  const std::string rendered =
      chat_template.render(request.messages, request.tools, request.add_generation_prompt, request.chat_template_kwargs);
  CHECK(rendered ==
        "<|im_start|>system\nYou are Qwen, created by Alibaba Cloud. You are a helpful assistant.\n\n# Tools\n\nYou may call "
        "one or more functions to assist with the user query.\n\nYou are provided with function signatures within "
        "<tools></tools> XML tags:\n<tools>\n"
        R"({"type": "function", "function": {"name": "get_weather", "description": null, )"
        R"("parameters": {"type": "object", "properties": {"city": {"type": "string"}}}}})"
        "\n</tools>\n\nFor each function call, return a json object with function name and arguments within "
        "<tool_call></tool_call> XML tags:\n<tool_call>\n{\"name\": <function-name>, \"arguments\": <args-json-object>}\n"
        "</tool_call><|im_end|>\n"
        "<|im_start|>user\nWeather in Paris?<|im_end|>\n"
        "<|im_start|>assistant\n<tool_call>\n{\"name\": \"get_weather\", \"arguments\": {\"city\": \"Paris\"}}\n</tool_call>"
        "<|im_end|>\n"
        "<|im_start|>user\n<tool_response>\n18°C\n</tool_response><|im_end|>\n"
        "<|im_start|>assistant\n");
}
