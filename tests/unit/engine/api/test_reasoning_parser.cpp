#include "api/reasoning_parser.hpp"

#include "common/error.hpp"
#include "tokenizer/incremental_detokenizer.hpp"
#include "tokenizer/tokenizer.hpp"

#include <doctest/doctest.h>

#include <random>
#include <string>
#include <vector>

using llmctl::api::ReasoningParser;

namespace {

struct Split {
  std::string reasoning;
  std::string content;
  bool operator==(const Split&) const = default;
};

Split run(std::string_view name, const std::vector<std::string>& deltas, std::string_view prompt = {}) {
  auto parser = ReasoningParser::create(name, prompt);
  Split result;
  for (const auto& delta : deltas) {
    const auto step = parser->feed(delta);
    result.reasoning += step.reasoning;
    result.content += step.content;
  }
  const auto last = parser->finish();
  result.reasoning += last.reasoning;
  result.content += last.content;
  return result;
}

Split run_whole(std::string_view name, const std::string& text, std::string_view prompt = {}) {
  return run(name, {text}, prompt);
}

const std::vector<std::string> kOutputs = {
    "Okay, the user asks for 2+2.\n</think>\n\nThe answer is **4**.",  // R1: <think> was in the prompt
    "<think>\nLet me think.\n</think>\n\nHello!",                       // Qwen3 with the older template
    "\n\n<think>abc</think>x",
    "</think>Only content",
    "a</think>b<think>c</think>d",
    "I will <think> more</think>ok",
    "cut short while still thinking </th",
    "<thi",
    "<think",
    "<",
    "   ",
    "",
    "no tags at all < > </ </think",
    "思考：北京？</think>答案：北京。😀",
};

}  // namespace

TEST_CASE("DeepSeek-R1 output: everything before </think> is reasoning, the rest content, verbatim") {
  CHECK(run_whole("deepseek_r1", kOutputs[0]) == Split{"Okay, the user asks for 2+2.\n", "\n\nThe answer is **4**."});
  CHECK(run_whole("deepseek_r1", "</think>Only content") == Split{"", "Only content"});
  CHECK(run_whole("deepseek_r1", "思考：北京？</think>答案：北京。😀") == Split{"思考：北京？", "答案：北京。😀"});
}

TEST_CASE("a leading <think> is dropped with the whitespace before it; other tags are text") {
  for (const auto* name : {"deepseek_r1", "qwen3"}) {
    CAPTURE(name);
    CHECK(run_whole(name, kOutputs[1]) == Split{"\nLet me think.\n", "\n\nHello!"});
    CHECK(run_whole(name, "\n\n<think>abc</think>x") == Split{"abc", "x"});
    CHECK(run_whole(name, "a</think>b<think>c</think>d") == Split{"a", "b<think>c</think>d"});
    CHECK(run_whole(name, "I will <think> more</think>ok") == Split{"I will <think> more", "ok"});
  }
}

TEST_CASE("without </think> all is reasoning, as when max_tokens cuts the output inside a tag or the thinking") {
  for (const auto* name : {"deepseek_r1", "qwen3"}) {
    CAPTURE(name);
    CHECK(run_whole(name, "cut short while still thinking </th") == Split{"cut short while still thinking </th", ""});
    CHECK(run_whole(name, "<thi") == Split{"<thi", ""});
    CHECK(run_whole(name, "<think") == Split{"<think", ""});
    CHECK(run_whole(name, "<think>") == Split{"", ""});
    CHECK(run_whole(name, "   ") == Split{"   ", ""});
    CHECK(run_whole(name, "") == Split{"", ""});
    CHECK(run_whole(name, "Plain answer, no tags.") == Split{"Plain answer, no tags.", ""});
  }
}

TEST_CASE("a prompt that already closed the reasoning makes all output content") {
  const std::string thinking_off = "<|im_start|>user\nhi<|im_end|>\n<|im_start|>assistant\n<think>\n\n</think>\n\n";
  CHECK(run_whole("qwen3", "Hello! </think> stays", thinking_off) == Split{"", "Hello! </think> stays"});
  CHECK(run_whole("deepseek_r1", "<think>x", "...</think>") == Split{"", "<think>x"});
  const std::string thinking_on = "<｜User｜>hi<｜Assistant｜><think>\n";
  CHECK(run_whole("deepseek_r1", "hmm</think>Hi", thinking_on) == Split{"hmm", "Hi"});
  // A </think> earlier in the conversation does not count (vLLM's backward token scan would say it does).
  CHECK(run_whole("qwen3", "hmm</think>Hi", "a</think>b<|im_start|>assistant\n") == Split{"hmm", "Hi"});
}

TEST_CASE("streaming holds back only what may still be a tag") {
  auto parser = ReasoningParser::create("deepseek_r1");
  auto step = parser->feed("\n");
  CHECK(step.reasoning.empty());  // may precede <think>
  step = parser->feed("<thi");
  CHECK(step.reasoning.empty());
  step = parser->feed("nk>");
  CHECK(step.reasoning.empty());
  step = parser->feed("Hmm </x");
  CHECK(step.reasoning == "Hmm </x");
  step = parser->feed(" and </thi");
  CHECK(step.reasoning == " and ");
  step = parser->feed("nk>\n\nAnswer");
  CHECK(step.reasoning.empty());
  CHECK(step.content == "\n\nAnswer");
  step = parser->feed("</think><think>");
  CHECK(step.content == "</think><think>");
  step = parser->finish();
  CHECK(step.reasoning.empty());
  CHECK(step.content.empty());

  auto plain = ReasoningParser::create("qwen3");
  CHECK(plain->feed("Sure").reasoning == "Sure");  // not whitespace, not "<": no reason to wait
  CHECK(plain->feed("</think").reasoning.empty());
  CHECK(plain->finish().reasoning == "</think");
}

TEST_CASE("any split of the output into deltas gives the same reasoning and content") {
  std::mt19937 random(12345);
  for (const auto* name : {"deepseek_r1", "qwen3"}) {
    for (const auto& text : kOutputs) {
      CAPTURE(name);
      CAPTURE(text);
      const auto whole = run_whole(name, text);
      for (std::size_t i = 0; i <= text.size(); ++i) {
        for (std::size_t j = i; j <= text.size(); ++j) {
          CHECK(run(name, {text.substr(0, i), text.substr(i, j - i), text.substr(j)}) == whole);
        }
      }
      for (int trial = 0; trial < 200; ++trial) {
        std::vector<std::string> deltas;
        for (std::size_t at = 0; at < text.size();) {
          const auto length = std::uniform_int_distribution<std::size_t>(0, 4)(random);
          deltas.push_back(text.substr(at, length));
          at += length;
        }
        CHECK(run(name, deltas) == whole);
      }
    }
  }
}

TEST_CASE("Qwen3 output detokenized token by token splits as the whole text does") {
  const auto tokenizer = llmctl::engine::Tokenizer::load(std::string(LLMCTL_TOKENIZER_DIR) + "/qwen3/tokenizer.json");
  const std::string text =
      "<think>\nThe user wants the capital of France. That is Paris.\n</think>\n\nThe capital of France is **Paris**. 🇫🇷";
  const auto ids = tokenizer.encode(text, false);
  llmctl::engine::IncrementalDetokenizer detokenizer(tokenizer, false);
  std::vector<std::string> deltas;
  for (const auto id : ids) deltas.push_back(detokenizer.push(id));
  deltas.push_back(detokenizer.finish());
  CHECK(run("qwen3", deltas) ==
        Split{"\nThe user wants the capital of France. That is Paris.\n", "\n\nThe capital of France is **Paris**. 🇫🇷"});
}

TEST_CASE("an unknown parser name is an error naming the known ones") {
  CHECK_THROWS_WITH_AS(ReasoningParser::create("qwen"), "unknown reasoning parser 'qwen' (known: deepseek_r1, qwen3)",
                       llmctl::Error);
  CHECK_THROWS_AS(ReasoningParser::create(""), llmctl::Error);
}
