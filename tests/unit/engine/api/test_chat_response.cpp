#include "api/chat_response.hpp"

#include "common/error.hpp"
#include "support/completion_updates.hpp"

#include <doctest/doctest.h>

#include <regex>
#include <string>
#include <vector>

using namespace llmctl;
using namespace llmctl::api;
using engine::CompletionUpdate;
using engine::FinishReason;
using engine::RequestOutput;
using engine::SampledToken;
using test::update;

namespace {

const engine::Tokenizer& qwen() {
  static const auto tokenizer = engine::Tokenizer::load(LLMCTL_TOKENIZER_DIR "/qwen2_5/tokenizer.json");
  return tokenizer;
}

// Qwen2.5 ids: "." and the two halves of "𝄞" (U+FFFD each alone).
constexpr TokenId kDot = 13, kClefHead = 124596, kClefTail = 252;
const std::string kReplacement = "\xEF\xBF\xBD";

const ResponseHeader kHeader{"chatcmpl-1", "m", 1700000000};
const PromptTokens kPrompt{"<|im_start|>user\nHi<|im_end|>\n<|im_start|>assistant\n", {1, 2, 3}};

ChatRequest make_request(int n, bool stream, bool continuous_usage = false) {
  ChatRequest request;
  request.messages = nlohmann::ordered_json::parse(R"([{"role":"user","content":"Hi"}])");
  request.sampling.n = n;
  request.stream = {stream, stream, continuous_usage};
  return request;
}

ChatRequest tool_request(bool stream) {
  ChatRequest request = make_request(1, stream);
  request.tools = nlohmann::ordered_json::parse(R"([{"type":"function","function":{"name":"get_weather"}}])");
  request.tool_choice = ToolChoice::automatic;
  return request;
}

RequestOutput output(std::vector<CompletionUpdate> updates, std::int64_t cached = 0) {
  RequestOutput result;
  result.request_id = "r";
  result.updates = std::move(updates);
  result.num_prompt_tokens = 3;
  result.num_cached_tokens = cached;
  return result;
}

// One output per text delta of choice 0, a token each; the last one ends the choice with `finish`.
std::vector<RequestOutput> deltas(const std::vector<std::string>& texts, FinishReason finish = FinishReason::stop) {
  std::vector<RequestOutput> outputs;
  for (std::size_t i = 0; i < texts.size(); ++i)
    outputs.push_back(output({update(0, {static_cast<TokenId>(100 + i)}, texts[i],
                                     i + 1 == texts.size() ? std::optional(finish) : std::nullopt)}));
  return outputs;
}

// Tool-call ids are random: "chatcmpl-tool-" and 32 hex digits become "chatcmpl-tool-ID".
std::string without_ids(const std::string& text) {
  return std::regex_replace(text, std::regex("chatcmpl-tool-[0-9a-f]{32}"), "chatcmpl-tool-ID");
}

std::string stream(ChatResponse& response, const std::vector<RequestOutput>& outputs) {
  std::string text;
  for (const auto& out : outputs)
    for (const auto& chunk : response.add(out)) text += without_ids(chunk.dump()) + "\n";
  return text;
}

const std::string kChunk = R"({"id":"chatcmpl-1","object":"chat.completion.chunk","created":1700000000,"model":"m","choices":[)";
const std::string kRoleChunk = kChunk + R"({"index":0,"delta":{"role":"assistant","content":""},"logprobs":null,"finish_reason":null}]})";

std::string message(const std::string& content, const std::string& tool_calls = "[]",
                    const std::string& reasoning = "null") {
  return R"({"role":"assistant","content":)" + content +
         R"(,"refusal":null,"annotations":null,"audio":null,"function_call":null,"tool_calls":)" + tool_calls +
         R"(,"reasoning_content":)" + reasoning + "}";
}

std::vector<RequestOutput> two_choices() {
  return {output({update(0, {10}, "Hel"), update(1, {11}, "Wor")}, 2),
          output({update(0, {12}, "lo", FinishReason::stop, std::string("##")), update(1, {13}, "", FinishReason::length)}, 2)};
}

}  // namespace

TEST_CASE("streaming: role chunks first, deltas per choice with continuous usage, finish with stop_reason, usage chunk") {
  ResponseHeader header = kHeader;
  header.prompt_tokens_details = true;
  ChatResponse response(make_request(2, true, true), header, kPrompt, nullptr, {});
  const std::string usage = R"(,"usage":{"prompt_tokens":3,"total_tokens":)";
  CHECK(stream(response, two_choices()) ==
        kChunk + R"({"index":0,"delta":{"role":"assistant","content":""},"logprobs":null,"finish_reason":null}])" + usage +
            R"(3,"completion_tokens":0}})" + "\n" +
        kChunk + R"({"index":1,"delta":{"role":"assistant","content":""},"logprobs":null,"finish_reason":null}])" + usage +
            R"(3,"completion_tokens":0}})" + "\n" +
        kChunk + R"({"index":0,"delta":{"content":"Hel"},"logprobs":null,"finish_reason":null}])" + usage +
            R"(4,"completion_tokens":1}})" + "\n" +
        kChunk + R"({"index":1,"delta":{"content":"Wor"},"logprobs":null,"finish_reason":null}])" + usage +
            R"(4,"completion_tokens":1}})" + "\n" +
        kChunk + R"({"index":0,"delta":{"content":"lo"},"logprobs":null,"finish_reason":"stop","stop_reason":"##"}])" +
            usage + R"(5,"completion_tokens":2}})" + "\n" +
        kChunk + R"({"index":1,"delta":{"content":""},"logprobs":null,"finish_reason":"length","stop_reason":null}])" +
            usage + R"(5,"completion_tokens":2}})" + "\n");
  CHECK(response.usage_chunk().dump() ==
        R"({"id":"chatcmpl-1","object":"chat.completion.chunk","created":1700000000,"model":"m","choices":[],)"
        R"("usage":{"prompt_tokens":3,"total_tokens":7,"completion_tokens":4,"prompt_tokens_details":{"cached_tokens":2}}})");

  ChatResponse plain(make_request(1, true), kHeader, kPrompt, nullptr, {});
  CHECK(stream(plain, {output({update(0, {10}, "A", FinishReason::stop, TokenId{151645})})}) ==
        kRoleChunk + "\n" + kChunk +
            R"({"index":0,"delta":{"content":"A"},"logprobs":null,"finish_reason":"stop","stop_reason":151645}]})" + "\n");
  CHECK(plain.usage_chunk().dump() ==
        R"({"id":"chatcmpl-1","object":"chat.completion.chunk","created":1700000000,"model":"m","choices":[],)"
        R"("usage":{"prompt_tokens":3,"total_tokens":4,"completion_tokens":1}})");
}

TEST_CASE("non-streaming: every ChatMessage field, finish and stop reasons, usage") {
  ChatResponse response(make_request(2, false), kHeader, kPrompt, nullptr, {});
  for (const auto& out : two_choices()) CHECK(response.add(out).empty());
  CHECK(response.response().dump() ==
        R"({"id":"chatcmpl-1","object":"chat.completion","created":1700000000,"model":"m","choices":[)"
        R"({"index":0,"message":)" + message(R"("Hello")") + R"(,"logprobs":null,"finish_reason":"stop","stop_reason":"##"},)"
        R"({"index":1,"message":)" + message(R"("Wor")") + R"(,"logprobs":null,"finish_reason":"length","stop_reason":null}],)"
        R"("service_tier":null,"system_fingerprint":null,)"
        R"("usage":{"prompt_tokens":3,"total_tokens":7,"completion_tokens":4,"prompt_tokens_details":null},)"
        R"("prompt_logprobs":null,"kv_transfer_params":null})");
}

TEST_CASE("abort ends a choice with finish_reason abort; nothing follows a finished choice") {
  ChatResponse response(make_request(1, true), kHeader, kPrompt, nullptr, {});
  CHECK(stream(response, {output({update(0, {10}, "Hi")}), output({update(0, {}, "", FinishReason::abort)}),
                          output({update(0, {11}, "late")})}) ==
        kRoleChunk + "\n" + kChunk + R"({"index":0,"delta":{"content":"Hi"},"logprobs":null,"finish_reason":null}]})" + "\n" +
            kChunk + R"({"index":0,"delta":{"content":""},"logprobs":null,"finish_reason":"abort","stop_reason":null}]})" +
            "\n");
  CHECK(response.response()["choices"][0]["message"]["content"] == "Hi");
  CHECK(response.response()["usage"]["completion_tokens"] == 1);
}

TEST_CASE("echo puts the last message's content first when its role is the answer's") {
  ChatRequest request = make_request(1, true);
  request.echo = true;
  request.add_generation_prompt = false;
  request.continue_final_message = true;
  request.messages = nlohmann::ordered_json::parse(R"([{"role":"user","content":"Hi"},{"role":"assistant","content":"The answer is"}])");
  ChatResponse streamed(request, kHeader, kPrompt, nullptr, {});
  const auto outputs = deltas({" 42"});
  CHECK(stream(streamed, outputs) ==
        kRoleChunk + "\n" + kChunk + R"({"index":0,"delta":{"content":"The answer is"},"logprobs":null,"finish_reason":null}]})" +
            "\n" + kChunk + R"({"index":0,"delta":{"content":" 42"},"logprobs":null,"finish_reason":"stop","stop_reason":null}]})" +
            "\n");
  CHECK(streamed.response()["choices"][0]["message"]["content"] == "The answer is 42");

  // Without add_generation_prompt the answer takes the last message's role, here "user".
  request.messages = nlohmann::ordered_json::parse(R"([{"role":"user","content":"Hi"}])");
  request.stream = {};
  ChatResponse as_user(request, kHeader, kPrompt, nullptr, {});
  as_user.add(outputs[0]);
  CHECK(as_user.response()["choices"][0]["message"].dump() ==
        R"({"role":"user","content":"Hi 42","refusal":null,"annotations":null,"audio":null,"function_call":null,)"
        R"("tool_calls":[],"reasoning_content":null})");

  // A generation prompt makes the role "assistant": the user's message is not echoed.
  request.add_generation_prompt = true;
  request.continue_final_message = false;
  ChatResponse assistant(request, kHeader, kPrompt, nullptr, {});
  assistant.add(outputs[0]);
  CHECK(assistant.response()["choices"][0]["message"]["content"] == " 42");
}

TEST_CASE("logprobs: without parsers a token without text still gets its chunk (vLLM's)") {
  ChatRequest request = make_request(1, true);
  request.logprobs = true;
  request.sampling.logprobs = 1;
  const std::vector<RequestOutput> outputs{
      output({update(0, {kClefHead}, "", {}, {}, {{kClefHead, -0.5f, 2, {{kClefTail, -0.25f}}}})}),
      output({update(0, {kClefTail}, "𝄞", {}, {}, {{kClefTail, -0.25f, 1, {{kClefTail, -0.25f}}}})}),
      output({update(0, {kDot}, ".", FinishReason::stop, {}, {{kDot, -1.0f, 1, {{kDot, -1.0f}}}})}),
  };
  const std::string half = R"({"token":")" + kReplacement + R"(","logprob":)";
  // top_logprobs 1: the sampled token's own entry, though the other half ranks above it.
  const std::string head = half + R"(-0.5,"bytes":[239,191,189],"top_logprobs":[)" + half + R"(-0.5,"bytes":[239,191,189]}]})";
  const std::string tail = half + R"(-0.25,"bytes":[239,191,189],"top_logprobs":[)" + half + R"(-0.25,"bytes":[239,191,189]}]})";
  const std::string dot = R"({"token":".","logprob":-1.0,"bytes":[46],"top_logprobs":[{"token":".","logprob":-1.0,"bytes":[46]}]})";

  ChatResponse streamed(request, kHeader, kPrompt, &qwen(), {});
  CHECK(stream(streamed, {outputs[0]}) == kRoleChunk + "\n" + kChunk + R"({"index":0,"delta":{"content":""},"logprobs":{"content":[)" +
                                              head + R"(]},"finish_reason":null}]})" + "\n");
  CHECK(stream(streamed, {outputs[1], outputs[2]}) ==
        kChunk + R"({"index":0,"delta":{"content":"𝄞"},"logprobs":{"content":[)" + tail +
            R"(]},"finish_reason":null}]})" + "\n" + kChunk + R"({"index":0,"delta":{"content":"."},"logprobs":{"content":[)" +
            dot + R"(]},"finish_reason":"stop","stop_reason":null}]})" + "\n");

  request.stream = {};
  ChatResponse whole(request, kHeader, kPrompt, &qwen(), {});
  for (const auto& out : outputs) whole.add(out);
  CHECK(whole.response()["choices"][0]["logprobs"].dump() ==
        R"({"content":[)" + head + "," + tail + "," + dot + "]}");
  CHECK(whole.response()["choices"][0]["message"]["content"] == "𝄞.");
}

TEST_CASE("reasoning parser: reasoning_content then content, split tags held back; streaming and not agree") {
  const OutputParsers parsers{"deepseek_r1", ""};
  const auto outputs = deltas({"<think>", "Let me", " think</th", "ink>The answer", " is 4."});
  ChatResponse streamed(make_request(1, true), kHeader, kPrompt, &qwen(), parsers);
  CHECK(stream(streamed, outputs) ==
        kRoleChunk + "\n" +
        kChunk + R"({"index":0,"delta":{"reasoning_content":"Let me"},"logprobs":null,"finish_reason":null}]})" + "\n" +
        kChunk + R"({"index":0,"delta":{"reasoning_content":" think"},"logprobs":null,"finish_reason":null}]})" + "\n" +
        kChunk + R"({"index":0,"delta":{"content":"The answer"},"logprobs":null,"finish_reason":null}]})" + "\n" +
        kChunk + R"({"index":0,"delta":{"content":" is 4."},"logprobs":null,"finish_reason":"stop","stop_reason":null}]})" +
            "\n");

  ChatResponse whole(make_request(1, false), kHeader, kPrompt, &qwen(), parsers);
  for (const auto& out : outputs) whole.add(out);
  CHECK(whole.response()["choices"][0]["message"].dump() == message(R"("The answer is 4.")", "[]", R"("Let me think")"));

  // Cut short inside the reasoning: all reasoning, content null, the held "</th" released at the end.
  ChatResponse cut(make_request(1, true), kHeader, kPrompt, &qwen(), parsers);
  CHECK(stream(cut, deltas({"Hmm", "</th"}, FinishReason::length)) ==
        kRoleChunk + "\n" + kChunk + R"({"index":0,"delta":{"reasoning_content":"Hmm"},"logprobs":null,"finish_reason":null}]})" +
            "\n" + kChunk +
            R"({"index":0,"delta":{"reasoning_content":"</th"},"logprobs":null,"finish_reason":"length","stop_reason":null}]})" +
            "\n");
  CHECK(cut.response()["choices"][0]["message"].dump() == message("null", "[]", R"("Hmm</th")"));

  // A prompt that closes the reasoning (Qwen3 with enable_thinking false) leaves only content.
  const PromptTokens closed{"<|im_start|>assistant\n<think>\n\n</think>\n\n", {1, 2, 3}};
  ChatResponse no_thinking(make_request(1, false), kHeader, closed, &qwen(), {"qwen3", ""});
  for (const auto& out : deltas({"Plain", " answer"})) no_thinking.add(out);
  CHECK(no_thinking.response()["choices"][0]["message"].dump() == message(R"("Plain answer")"));
}

TEST_CASE("tool calls: id and name first, then arguments; finish_reason tool_calls; content null") {
  const OutputParsers parsers{"", "hermes"};
  const auto outputs = deltas({"<tool_call>\n{\"name\": \"get_weather\", ", "\"arguments\": {\"city\": \"Paris\"}}\n</tool_call>"});
  ChatResponse streamed(tool_request(true), kHeader, kPrompt, &qwen(), parsers);
  CHECK(stream(streamed, outputs) ==
        kRoleChunk + "\n" + kChunk +
            R"({"index":0,"delta":{"tool_calls":[{"id":"chatcmpl-tool-ID","type":"function","index":0,"function":{"name":"get_weather"}}]},)"
            R"("logprobs":null,"finish_reason":null}]})" + "\n" + kChunk +
            R"({"index":0,"delta":{"tool_calls":[{"index":0,"function":{"arguments":"{\"city\": \"Paris\"}"}}]},)"
            R"("logprobs":null,"finish_reason":"tool_calls","stop_reason":null}]})" + "\n");
  // The id is vLLM's form, and the whole answer of the same stream repeats it.
  ChatResponse again(tool_request(true), kHeader, kPrompt, &qwen(), parsers);
  const std::string id = again.add(outputs[0])[1]["choices"][0]["delta"]["tool_calls"][0]["id"];
  CHECK(std::regex_match(id, std::regex("chatcmpl-tool-[0-9a-f]{32}")));
  again.add(outputs[1]);
  CHECK(again.response()["choices"][0]["message"]["tool_calls"][0]["id"] == id);

  ChatResponse whole(tool_request(false), kHeader, kPrompt, &qwen(), parsers);
  for (const auto& out : outputs) whole.add(out);
  CHECK(without_ids(whole.response()["choices"][0].dump()) ==
        R"({"index":0,"message":)" +
            message("null", R"([{"id":"chatcmpl-tool-ID","type":"function","function":{"name":"get_weather","arguments":"{\"city\": \"Paris\"}"}}])") +
            R"(,"logprobs":null,"finish_reason":"tool_calls","stop_reason":null})");
}

TEST_CASE("tool calls: content around calls, a call cut by length keeps finish_reason length") {
  const OutputParsers parsers{"", "hermes"};
  ChatResponse streamed(tool_request(true), kHeader, kPrompt, &qwen(), parsers);
  CHECK(stream(streamed, deltas({"Let me check.", "<tool_call>\n{\"name\": \"get_weather\", \"arguments\": {\"ci"},
                                FinishReason::length)) ==
        kRoleChunk + "\n" + kChunk + R"({"index":0,"delta":{"content":"Let me check."},"logprobs":null,"finish_reason":null}]})" +
            "\n" + kChunk +
            R"({"index":0,"delta":{"tool_calls":[{"id":"chatcmpl-tool-ID","type":"function","index":0,"function":{"name":"get_weather",)"
            R"("arguments":"{\"ci"}}]},"logprobs":null,"finish_reason":"length","stop_reason":null}]})" + "\n");
  CHECK(without_ids(streamed.response()["choices"][0]["message"].dump()) ==
        message(R"("Let me check.")",
                R"([{"id":"chatcmpl-tool-ID","type":"function","function":{"name":"get_weather","arguments":"{\"ci"}}])"));
  CHECK(streamed.response()["choices"][0]["finish_reason"] == "length");
}

TEST_CASE("the tool-call parser runs only for requests with tools and tool_choice auto") {
  const auto outputs = deltas({"<tool_call>\n{\"name\": \"f\", \"arguments\": {}}\n</tool_call>"});
  ChatRequest none = tool_request(false);
  none.tool_choice = ToolChoice::none;
  ChatRequest no_tools = make_request(1, false);
  no_tools.tool_choice = ToolChoice::automatic;
  for (const auto& request : {none, no_tools}) {
    ChatResponse response(request, kHeader, kPrompt, &qwen(), {"", "hermes"});
    for (const auto& out : outputs) response.add(out);
    CHECK(response.response()["choices"][0]["message"]["content"] == outputs[0].updates[0].text);
    CHECK(response.response()["choices"][0]["finish_reason"] == "stop");
  }
  // Without a configured parser the tools are only text too.
  ChatResponse unparsed(tool_request(false), kHeader, kPrompt, &qwen(), {});
  for (const auto& out : outputs) unparsed.add(out);
  CHECK(unparsed.response()["choices"][0]["message"]["tool_calls"].dump() == "[]");
}

TEST_CASE("reasoning then tool calls on the content, n > 1 with a parser per choice") {
  ChatRequest request = tool_request(true);
  request.sampling.n = 2;
  ChatResponse response(request, kHeader, kPrompt, &qwen(), {"deepseek_r1", "hermes"});
  const std::string call = "<tool_call>\n{\"name\": \"get_weather\", \"arguments\": {}}\n</tool_call>";
  CHECK(stream(response, {output({update(0, {1}, "Need weather.</think>\n\n" + call, FinishReason::stop),
                                  update(1, {2}, "No tools.</think>Sunny.", FinishReason::stop)})}) ==
        kRoleChunk + "\n" + kChunk +
            R"({"index":1,"delta":{"role":"assistant","content":""},"logprobs":null,"finish_reason":null}]})" + "\n" + kChunk +
            R"({"index":0,"delta":{"reasoning_content":"Need weather.","tool_calls":[{"id":"chatcmpl-tool-ID","type":"function",)"
            R"("index":0,"function":{"name":"get_weather","arguments":"{}"}}]},"logprobs":null,"finish_reason":"tool_calls",)"
            R"("stop_reason":null}]})" + "\n" + kChunk +
            R"({"index":1,"delta":{"content":"Sunny.","reasoning_content":"No tools."},"logprobs":null,"finish_reason":"stop",)"
            R"("stop_reason":null}]})" + "\n");
  const auto choices = response.response()["choices"];
  CHECK(without_ids(choices[0]["message"].dump()) ==
        message("null", R"([{"id":"chatcmpl-tool-ID","type":"function","function":{"name":"get_weather","arguments":"{}"}}])",
                R"("Need weather.")"));
  CHECK(choices[1]["message"].dump() == message(R"("Sunny.")", "[]", R"("No tools.")"));
}

TEST_CASE("bad outputs and unknown parsers are refused") {
  ChatResponse response(make_request(1, true), kHeader, kPrompt, nullptr, {});
  CHECK_THROWS_WITH_AS(response.add(output({update(1, {5}, "x")})), "internal: an output for choice 1 of 1", Error);
  CHECK_THROWS_AS(ChatResponse(make_request(1, true), kHeader, kPrompt, nullptr, {"nonsense", ""}), Error);
  CHECK_THROWS_AS(ChatResponse(tool_request(true), kHeader, kPrompt, nullptr, {"", "nonsense"}), Error);
}
