#include "api/tool_call_parser.hpp"

#include "common/error.hpp"
#include "tokenizer/incremental_detokenizer.hpp"
#include "tokenizer/tokenizer.hpp"

#include <doctest/doctest.h>

#include <random>
#include <string>
#include <vector>

using llmctl::api::ToolCallParser;

namespace {

struct Call {
  std::string name;
  std::string arguments;
  bool operator==(const Call&) const = default;
};

struct Outcome {
  std::string content;
  std::vector<Call> calls;
  bool called = false;
  bool operator==(const Outcome&) const = default;
};

// vLLM's form: "chatcmpl-tool-" + uuid4().hex (32 lowercase hex digits, version 4, variant 8-b).
bool is_tool_call_id(const std::string& id) {
  const std::string_view prefix = "chatcmpl-tool-";
  if (!id.starts_with(prefix) || id.size() != prefix.size() + 32) return false;
  const auto hex = id.substr(prefix.size());
  return hex.find_first_not_of("0123456789abcdef") == std::string::npos && hex[12] == '4' &&
         std::string_view("89ab").find(hex[16]) != std::string_view::npos;
}

// Feeds the deltas and checks the stream's shape on the way: a call's first delta has the next index, an
// id of vLLM's form and the name; later ones only more arguments; each call's arguments come in one piece.
Outcome run(const std::vector<std::string>& deltas) {
  auto parser = ToolCallParser::create("hermes");
  Outcome outcome;
  std::vector<int> argument_pieces;
  const auto take = [&](const ToolCallParser::Delta& delta) {
    outcome.content += delta.content;
    for (const auto& piece : delta.tool_calls) {
      if (piece.id) {
        REQUIRE(piece.index == static_cast<int>(outcome.calls.size()));
        REQUIRE(piece.name.has_value());
        CHECK(is_tool_call_id(*piece.id));
        outcome.calls.push_back({*piece.name, {}});
        argument_pieces.push_back(0);
      } else {
        REQUIRE(piece.index == static_cast<int>(outcome.calls.size()) - 1);
        CHECK_FALSE(piece.name.has_value());
      }
      if (!piece.arguments.empty()) ++argument_pieces.back();
      outcome.calls.back().arguments += piece.arguments;
    }
  };
  for (const auto& delta : deltas) take(parser->feed(delta));
  take(parser->finish());
  for (const auto pieces : argument_pieces) CHECK(pieces <= 1);
  outcome.called = parser->called_tools();
  return outcome;
}

Outcome run_whole(const std::string& text) { return run({text}); }

const std::string kWeatherCall =
    "<tool_call>\n{\"name\": \"get_weather\", \"arguments\": {\"city\": \"Paris\", \"unit\": \"celsius\"}}\n</tool_call>";
const std::string kTimeCall = "<tool_call>\n{\"name\":\"get_time\",\"arguments\":{\"tz\":\"Europe/Paris\"}}\n</tool_call>";

const std::vector<std::string> kOutputs = {
    kWeatherCall,
    "Let me check both.\n" + kWeatherCall + "\n" + kTimeCall,
    "\n\n" + kWeatherCall + "\n",
    kWeatherCall + "\nDone.",
    "Hello <b>world</b> <tool",
    "  \n",
    "<tool_call>\n{\"name\": \"search\", \"arguments\": {\"q\": \"天气 東京 😀\", \"n\": \"a\\nb \\\"q\\\" \\u0001\"}}\n</tool_call>",
    "<tool_call>\n{\"arguments\": {\"a\": 1}, \"name\": \"f\"}\n</tool_call>",
    "Hm.<tool_call>\nnot json\n</tool_call>" + kTimeCall,
    "<tool_call>\n{\"name\": \"run\", \"arguments\": {\"code\": \"x = 1\ny\"}}\n</tool_call>",
    "<tool_call>\n{\"name\": \"get_weather\", \"arguments\": {\"city\": \"Par",
    "Sure.<tool_call>\n{\"na",
    "<tool_call>\n{\"name\": \"f\", \"arguments\": {\"a\": [1, {\"b\": null}]}}\n</tool_",
    "<tool_call>\n{\"name\": \"echo\", \"arguments\": {\"text\": \"a </tool_call> b\"}}\n</tool_call>",
    "<tool_call></tool_call><tool_call>",
};

}  // namespace

TEST_CASE("a Qwen2.5 call: id, name and arguments as json.dumps writes them, no content") {
  const auto outcome = run_whole(kWeatherCall);
  CHECK(outcome == Outcome{"", {{"get_weather", R"({"city": "Paris", "unit": "celsius"})"}}, true});
}

TEST_CASE("several calls with content before them: the text outside the calls stays content") {
  CHECK(run_whole(kOutputs[1]) == Outcome{"Let me check both.\n\n",
                                          {{"get_weather", R"({"city": "Paris", "unit": "celsius"})"},
                                           {"get_time", R"({"tz": "Europe/Paris"})"}},
                                          true});
  CHECK(run_whole(kWeatherCall + "\nDone.").content == "\nDone.");
}

TEST_CASE("content that is only whitespace is dropped when a call was made, kept when none was") {
  CHECK(run_whole("\n\n" + kWeatherCall + "\n" + kTimeCall + "\n").content.empty());
  CHECK(run_whole("  \n") == Outcome{"  \n", {}, false});
  auto parser = ToolCallParser::create("hermes");
  CHECK(parser->feed("\n\n").content.empty());
  CHECK(parser->feed("Hi").content == "\n\nHi");
  CHECK(run_whole("") == Outcome{});
}

TEST_CASE("output without calls is content, including a cut-off start of a tag") {
  CHECK(run_whole("Hello <b>world</b> <tool") == Outcome{"Hello <b>world</b> <tool", {}, false});
  CHECK(run_whole("Use </tool_call> and <tool-call>") == Outcome{"Use </tool_call> and <tool-call>", {}, false});
}

TEST_CASE("arguments are serialised like Python's json.dumps(ensure_ascii=False)") {
  const auto arguments = [](const std::string& json) {
    const auto outcome = run_whole("<tool_call>" + json + "</tool_call>");
    REQUIRE(outcome.calls.size() == 1);
    return outcome.calls[0].arguments;
  };
  CHECK(arguments(R"({"name":"f","arguments":{"a":1,"b":[1,2.5,true,null],"c":{"d":"e"},"e":[],"f":{}}})") ==
        R"({"a": 1, "b": [1, 2.5, true, null], "c": {"d": "e"}, "e": [], "f": {}})");
  CHECK(arguments(R"({"name": "search", "arguments": {"query": "天气 in 東京 \u00e9 😀", "note": "l1\nl2 \"q\" \\ \u0001 \u001f \u007f \u2028 \/"}})") ==
        "{\"query\": \"天气 in 東京 é 😀\", \"note\": \"l1\\nl2 \\\"q\\\" \\\\ \\u0001 \\u001f \x7f \u2028 /\"}");
  // Every value below was checked against CPython 3: repr() of floats, ints as written.
  CHECK(arguments(R"({"name": "f", "arguments": {"x": 1e-5, "y": 100.0, "z": 1E2, "w": 0.1, "v": -0.0, "u": 1e16, )"
                  R"("t": 12345678.9, "s": -0, "r": 1e15, "q": 0.0001, "p": 123456789012345678, "o": 1.7976931348623157e308, )"
                  R"("n": 5e-324, "m": 0.30000000000000004}})") ==
        R"({"x": 1e-05, "y": 100.0, "z": 100.0, "w": 0.1, "v": -0.0, "u": 1e+16, "t": 12345678.9, "s": 0, )"
        R"("r": 1000000000000000.0, "q": 0.0001, "p": 123456789012345678, "o": 1.7976931348623157e+308, )"
        R"("n": 5e-324, "m": 0.30000000000000004})");
  CHECK(arguments(R"({"name": "f", "arguments": {"a": 1, "b": 2, "a": 3}})") == R"({"a": 3, "b": 2})");
  CHECK(arguments(R"({"name": "f", "arguments": "{\"a\": 1}"})") == R"("{\"a\": 1}")");
  CHECK(arguments(R"({"name": "f"})") == "{}");
  CHECK(arguments(R"({"name": "f", "arguments": {"deep": {"er": [[{"x": []}]]}}})") == R"({"deep": {"er": [[{"x": []}]]}})");
}

TEST_CASE("streaming: the name as soon as it is complete, the arguments in one piece at </tool_call>") {
  auto parser = ToolCallParser::create("hermes");
  auto step = parser->feed("I'll look.\n<tool_");
  CHECK(step.content == "I'll look.\n");
  CHECK(step.tool_calls.empty());
  step = parser->feed("call>\n{\"name\": \"get_");
  CHECK(step.content.empty());
  CHECK(step.tool_calls.empty());
  CHECK_FALSE(parser->called_tools());
  step = parser->feed("weather\", \"argu");
  REQUIRE(step.tool_calls.size() == 1);
  CHECK(step.tool_calls[0].index == 0);
  CHECK(step.tool_calls[0].id.has_value());
  CHECK(step.tool_calls[0].name == "get_weather");
  CHECK(step.tool_calls[0].arguments.empty());
  CHECK(parser->called_tools());
  step = parser->feed("ments\": {\"city\":\"Paris\"}}\n</tool_");
  CHECK(step.tool_calls.empty());
  step = parser->feed("call>\n<tool_call>{\"arguments\": {}, \"name\": \"now\"}</tool_call>");
  CHECK(step.content == "\n");  // content had begun with "I'll look.", so whitespace is sent at once
  REQUIRE(step.tool_calls.size() == 2);
  CHECK(step.tool_calls[0].index == 0);
  CHECK_FALSE(step.tool_calls[0].id.has_value());
  CHECK_FALSE(step.tool_calls[0].name.has_value());
  CHECK(step.tool_calls[0].arguments == R"({"city": "Paris"})");
  CHECK(step.tool_calls[1].index == 1);  // name not first: sent with the arguments once the call is whole
  CHECK(step.tool_calls[1].name == "now");
  CHECK(step.tool_calls[1].arguments == "{}");
  CHECK(step.tool_calls[0].id != step.tool_calls[1].id);
  step = parser->finish();
  CHECK(step.content.empty());
  CHECK(step.tool_calls.empty());
}

TEST_CASE("a call that is not JSON is content, tags and all; the calls around it still count") {
  CHECK(run_whole("Hm.<tool_call>\nnot json\n</tool_call>" + kTimeCall) ==
        Outcome{"Hm.<tool_call>\nnot json\n</tool_call>", {{"get_time", R"({"tz": "Europe/Paris"})"}}, true});
  const std::string qwen3_coder = "<tool_call>\n<function=get_weather>\n<parameter=city>\nParis\n</parameter>\n</function>\n</tool_call>";
  CHECK(run_whole(qwen3_coder) == Outcome{qwen3_coder, {}, false});
  CHECK(run_whole("<tool_call></tool_call><tool_call>") == Outcome{"<tool_call></tool_call><tool_call>", {}, false});
  CHECK(run_whole("<tool_call>{\"name\": 7, \"arguments\": {}}</tool_call>").calls.empty());
}

TEST_CASE("a call whose name was sent stays a call when its JSON breaks, with the arguments as written") {
  CHECK(run_whole("<tool_call>\n{\"name\": \"run\", \"arguments\": {\"code\": \"x = 1\ny\"}}\n</tool_call>") ==
        Outcome{"", {{"run", "{\"code\": \"x = 1\ny\"}"}}, true});
  // The first </tool_call> ends the call even inside a JSON string, as vLLM's regex does; the rest is content.
  CHECK(run_whole(kOutputs[13]) == Outcome{" b\"}}\n</tool_call>", {{"echo", "{\"text\": \"a "}}, true});
}

TEST_CASE("output cut at max_tokens inside a call or a tag") {
  // Inside the arguments: the call with the arguments so far, as OpenAI returns them.
  CHECK(run_whole(kOutputs[10]) == Outcome{"", {{"get_weather", "{\"city\": \"Par"}}, true});
  // Before the name was complete: nothing was sent as a call, so it is content.
  CHECK(run_whole("Sure.<tool_call>\n{\"na") == Outcome{"Sure.<tool_call>\n{\"na", {}, false});
  CHECK(run_whole("Sure.<tool_call>") == Outcome{"Sure.<tool_call>", {}, false});
  // Inside the closing tag: the JSON is whole, so the call is whole.
  CHECK(run_whole(kOutputs[12]) == Outcome{"", {{"f", R"({"a": [1, {"b": null}]})"}}, true});
  CHECK(run_whole("<tool_call>{\"name\": \"f\", \"arguments\": {}}") == Outcome{"", {{"f", "{}"}}, true});
}

TEST_CASE("any split of the output into deltas gives the same content and calls") {
  std::mt19937 random(2024);
  for (const auto& text : kOutputs) {
    CAPTURE(text);
    const auto whole = run_whole(text);
    for (std::size_t i = 0; i <= text.size(); ++i) {
      CHECK(run({text.substr(0, i), text.substr(i)}) == whole);
    }
    for (int trial = 0; trial < 300; ++trial) {
      std::vector<std::string> deltas;
      for (std::size_t at = 0; at < text.size();) {
        const auto length = std::uniform_int_distribution<std::size_t>(0, 6)(random);
        deltas.push_back(text.substr(at, length));
        at += length;
      }
      CHECK(run(deltas) == whole);
    }
  }
}

TEST_CASE("Qwen2.5 output detokenized token by token gives the calls of the whole text") {
  const auto tokenizer = llmctl::engine::Tokenizer::load(std::string(LLMCTL_TOKENIZER_DIR) + "/qwen2_5/tokenizer.json");
  const std::string text = "Checking.\n" + kWeatherCall + "\n" + kTimeCall;
  llmctl::engine::IncrementalDetokenizer detokenizer(tokenizer, false);
  std::vector<std::string> deltas;
  for (const auto id : tokenizer.encode(text, false)) deltas.push_back(detokenizer.push(id));
  deltas.push_back(detokenizer.finish());
  CHECK(run(deltas) == Outcome{"Checking.\n\n",
                               {{"get_weather", R"({"city": "Paris", "unit": "celsius"})"},
                                {"get_time", R"({"tz": "Europe/Paris"})"}},
                               true});
}

TEST_CASE("an unknown parser name is an error naming the known ones") {
  CHECK_THROWS_WITH_AS(ToolCallParser::create("mistral"), "unknown tool call parser 'mistral' (known: hermes)", llmctl::Error);
}
