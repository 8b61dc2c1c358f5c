#include "api/reasoning_parser.hpp"

#include "common/error.hpp"
#include "common/text.hpp"

#include <algorithm>

namespace llmctl::api {
namespace {

constexpr std::string_view kThinkStart = "<think>";
constexpr std::string_view kThinkEnd = "</think>";
constexpr std::string_view kWhitespace = " \t\n\r";

bool prompt_closes_reasoning(std::string_view prompt) {
  const auto last = prompt.find_last_not_of(kWhitespace);
  return last != std::string_view::npos && prompt.substr(0, last + 1).ends_with(kThinkEnd);
}

// Reasoning runs from the start of the output to the first </think>; a <think> at the very start (after
// whitespace, which is dropped with it) is optional, since R1's and newer Qwen templates put it in the
// prompt. Without any </think> everything is reasoning (the output was cut short inside it). A <think> or
// </think> after the first </think> is ordinary content. Unlike vLLM, this works on text alone, so a tag
// split across deltas ("</thi" + "nk>") or sharing a delta with other text never leaks into the wrong field.
class ThinkTagParser final : public ReasoningParser {
 public:
  explicit ThinkTagParser(bool reasoning_done) : state_(reasoning_done ? State::kContent : State::kStart) {}

  Delta feed(std::string_view text) override {
    held_ += text;
    Delta delta;
    advance(delta, false);
    return delta;
  }

  Delta finish() override {
    Delta delta;
    advance(delta, true);
    return delta;
  }

 private:
  enum class State { kStart, kReasoning, kContent };

  void advance(Delta& out, bool at_end) {
    if (state_ == State::kStart) {
      const auto first = held_.find_first_not_of(kWhitespace);
      const std::string_view rest = first == std::string::npos ? std::string_view() : std::string_view(held_).substr(first);
      if (rest.starts_with(kThinkStart)) {
        held_.erase(0, first + kThinkStart.size());
        state_ = State::kReasoning;
      } else if (kThinkStart.starts_with(rest) && !at_end) {
        return;  // only whitespace, or what may still become <think>
      } else {
        state_ = State::kReasoning;
      }
    }
    if (state_ == State::kReasoning) {
      const auto end = held_.find(kThinkEnd);
      if (end == std::string::npos) {
        const auto ready = held_.size() - (at_end ? 0 : partial_match_at_end(held_, kThinkEnd));
        out.reasoning += held_.substr(0, ready);
        held_.erase(0, ready);
        return;
      }
      out.reasoning += held_.substr(0, end);
      held_.erase(0, end + kThinkEnd.size());
      state_ = State::kContent;
    }
    out.content += held_;
    held_.clear();
  }

  State state_;
  std::string held_;  // received, not yet sent
};

}  // namespace

std::unique_ptr<ReasoningParser> ReasoningParser::create(std::string_view name, std::string_view prompt) {
  // qwen3 follows vLLM since its Qwen3.5 fix (PR #34779): <think> may be in the prompt, so the rule is
  // deepseek_r1's (older vLLM needed both tags in the output, else all was content).
  if (name != "deepseek_r1" && name != "qwen3") {
    throw Error("unknown reasoning parser '" + std::string(name) + "' (known: deepseek_r1, qwen3)");
  }
  return std::make_unique<ThinkTagParser>(prompt_closes_reasoning(prompt));
}

}  // namespace llmctl::api
