#include "tokenizer/stop_strings.hpp"

#include <doctest/doctest.h>

#include <string>
#include <vector>

using namespace llmctl::engine;

TEST_CASE("a stop string split across deltas is found and never partly sent") {
  StopStringMatcher matcher({"</answer>", "STOP"}, false);
  auto step = matcher.push("The result</");
  CHECK(step.text == "The result");  // "</" may start "</answer>"
  CHECK(step.stop == nullptr);
  step = matcher.push("ans");
  CHECK(step.text.empty());
  step = matcher.push("wer> trailing");
  CHECK(step.text.empty());
  REQUIRE(step.stop != nullptr);
  CHECK(*step.stop == "</answer>");
}

TEST_CASE("held text is released when it stops matching, and at the end") {
  StopStringMatcher matcher({"ab"}, false);
  CHECK(matcher.push("xa").text == "x");
  CHECK(matcher.push("c").text == "ac");
  CHECK(matcher.push("a").text.empty());
  CHECK(matcher.finish() == "a");
}

TEST_CASE("the stop string complete first wins however the deltas fall, and include_stop_str_in_output keeps it") {
  StopStringMatcher matcher({"world", "lo"}, true);
  const auto step = matcher.push("hello world");
  REQUIRE(step.stop != nullptr);
  CHECK(*step.stop == "lo");
  CHECK(step.text == "hello");
  for (const auto& deltas : std::vector<std::vector<std::string>>{{"<|end|>"}, {"<|end", "|>"}, {"<|", "e", "nd|>"}}) {
    StopStringMatcher nested({"<|end|>", "end"}, false);
    std::string text;
    const std::string* stop = nullptr;
    for (const auto& delta : deltas) {
      const auto result = nested.push(delta);
      text += result.text;
      if ((stop = result.stop) != nullptr) break;
    }
    REQUIRE(stop != nullptr);
    CHECK(*stop == "end");  // complete at "<|end", before "<|end|>" is
    CHECK(text == "<|");
  }
  StopStringMatcher none({}, false);
  CHECK(none.push("anything").text == "anything");
}

TEST_CASE("before min_tokens nothing stops, but a stop string that ends after the threshold is still found") {
  StopStringMatcher matcher({"ab"}, false);
  CHECK(matcher.push("xab", false).text == "xab");  // complete before the threshold: ordinary text
  CHECK(matcher.push("a", false).text.empty());     // may begin one: held
  const auto step = matcher.push("b", true);
  REQUIRE(step.stop != nullptr);
  CHECK(*step.stop == "ab");
  CHECK(step.text.empty());
}
