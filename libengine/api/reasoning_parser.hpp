#pragma once

#include <memory>
#include <string>
#include <string_view>

namespace llmctl::api {

// Splits a choice's generated text into reasoning (between <think> and </think>) and content, as vLLM's
// --reasoning-parser does, text delta by text delta, so that streaming and non-streaming agree.
class ReasoningParser {
 public:
  struct Delta {
    std::string reasoning;
    std::string content;
  };

  // "deepseek_r1" or "qwen3"; throws llmctl::Error naming the known parsers otherwise. `prompt` is the
  // rendered prompt: when it already closes the reasoning (it ends, but for whitespace, with </think>, as
  // Qwen3's template does for enable_thinking=false), everything generated is content, as vLLM does with
  // prompt_is_reasoning_end.
  static std::unique_ptr<ReasoningParser> create(std::string_view name, std::string_view prompt = {});
  virtual ~ReasoningParser() = default;

  // The next piece of generated text. Text that may still be part of a tag is held back.
  virtual Delta feed(std::string_view text) = 0;
  // The end of the choice: whatever was held back.
  virtual Delta finish() = 0;
};

}  // namespace llmctl::api
