#include "tokenizer/incremental_detokenizer.hpp"

#include "tokenizer/utf8.hpp"

#include <algorithm>

namespace llmctl::engine {
namespace {

// Tokens of context before the first unread one: enough for every decoder's look-behind.
constexpr std::size_t kContextTokens = 5;

bool ends_with_replacement(const std::string& text) { return text.ends_with("\xEF\xBF\xBD"); }

// The part of `now` after the text `before` already gave. Normally `before` is a prefix of `now`;
// when a decoder rewrote earlier text (ByteFallback turns a finished run of byte tokens into U+FFFD
// once a broken byte joins it), skip as many characters as were sent, as vLLM does, so that the
// stream goes on instead of waiting for a prefix that never comes back.
std::string new_text(const std::string& before, const std::string& now) {
  if (now.starts_with(before)) return now.substr(before.size());
  std::size_t characters = 0;
  for (std::size_t pos = 0; pos < before.size(); pos += utf8::character_length(before, pos)) ++characters;
  std::size_t pos = 0;
  for (; pos < now.size() && characters > 0; --characters) pos += utf8::character_length(now, pos);
  return now.substr(pos);
}

}  // namespace

IncrementalDetokenizer::IncrementalDetokenizer(const Tokenizer& tokenizer, bool skip_special_tokens,
                                               std::span<const TokenId> prompt_ids)
    : tokenizer_(tokenizer), skip_special_tokens_(skip_special_tokens) {
  const std::size_t context = std::min(prompt_ids.size(), kContextTokens);
  ids_.assign(prompt_ids.end() - static_cast<std::ptrdiff_t>(context), prompt_ids.end());
  prefix_offset_ = 0;
  read_offset_ = ids_.size();
}

std::string IncrementalDetokenizer::window_text(std::size_t end) const {
  return tokenizer_.decode(std::span(ids_).subspan(prefix_offset_, end - prefix_offset_), skip_special_tokens_);
}

std::string IncrementalDetokenizer::push(TokenId id) {
  ids_.push_back(id);
  const std::string before = window_text(read_offset_);
  const std::string now = window_text(ids_.size());
  if (now.size() <= before.size() || ends_with_replacement(now)) return {};
  std::string delta = new_text(before, now);
  // Slide the window: what was read becomes context, the rest is emitted.
  prefix_offset_ = read_offset_;
  read_offset_ = ids_.size();
  // Keep the buffer short on long generations.
  if (prefix_offset_ > 4 * kContextTokens) {
    ids_.erase(ids_.begin(), ids_.begin() + static_cast<std::ptrdiff_t>(prefix_offset_));
    read_offset_ -= prefix_offset_;
    prefix_offset_ = 0;
  }
  return delta;
}

std::string IncrementalDetokenizer::finish() {
  if (read_offset_ == ids_.size()) return {};
  const std::string before = window_text(read_offset_);
  const std::string now = window_text(ids_.size());
  read_offset_ = prefix_offset_ = ids_.size();
  return new_text(before, now);
}

}  // namespace llmctl::engine
