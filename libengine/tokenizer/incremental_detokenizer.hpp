#pragma once

#include "tokenizer/tokenizer.hpp"

#include <span>
#include <string>
#include <vector>

namespace llmctl::engine {

// Turns generated ids into text deltas for streaming. Each step decodes a short window of recent
// tokens and emits what the new token added, so decoders that look at context (a leading space, a
// "▁" prefix) give the same text as a full decode; a delta never ends inside an unfinished UTF-8
// character (the window's text is held while it ends in U+FFFD), as vLLM and HF's DecodeStream do.
class IncrementalDetokenizer {
 public:
  // `prompt_ids` give the first generated token its context; only their last few are used.
  IncrementalDetokenizer(const Tokenizer& tokenizer, bool skip_special_tokens, std::span<const TokenId> prompt_ids = {});

  // The text `id` completes; empty while it only starts a character.
  std::string push(TokenId id);
  // At the end of the sequence: whatever is still held, an unfinished character as U+FFFD.
  std::string finish();

 private:
  std::string window_text(std::size_t end) const;

  const Tokenizer& tokenizer_;
  bool skip_special_tokens_;
  std::vector<TokenId> ids_;
  std::size_t prefix_offset_;  // the window starts here
  std::size_t read_offset_;    // text up to here has been emitted
};

}  // namespace llmctl::engine
