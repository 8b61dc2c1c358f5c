#include "tokenizer/added_vocabulary.hpp"

#include "common/error.hpp"
#include "tokenizer/utf8.hpp"

#include <utf8proc.h>

#include <algorithm>

namespace llmctl::engine {
namespace {

// The regex \w HF uses for single_word tokens: letters, marks, decimal and letter numbers,
// connector punctuation, and the zero-width (non-)joiners.
bool is_word_character(char32_t c) {
  if (c == 0x200C || c == 0x200D) return true;
  switch (utf8proc_category(static_cast<utf8proc_int32_t>(c))) {
    case UTF8PROC_CATEGORY_LU:
    case UTF8PROC_CATEGORY_LL:
    case UTF8PROC_CATEGORY_LT:
    case UTF8PROC_CATEGORY_LM:
    case UTF8PROC_CATEGORY_LO:
    case UTF8PROC_CATEGORY_MN:
    case UTF8PROC_CATEGORY_MC:
    case UTF8PROC_CATEGORY_ME:
    case UTF8PROC_CATEGORY_ND:
    case UTF8PROC_CATEGORY_NL:
    case UTF8PROC_CATEGORY_PC:
      return true;
    default:
      return false;
  }
}

// The code point that ends text[..end].
char32_t code_point_before(std::string_view text, std::size_t end) {
  std::size_t start = end - 1;
  while (start > 0 && (static_cast<unsigned char>(text[start]) & 0xC0) == 0x80) --start;
  return utf8::next_code_point(text, start);
}

}  // namespace

void AddedVocabulary::Matcher::add(std::string_view pattern, int token) {
  if (pattern.empty()) return;
  starts[static_cast<unsigned char>(pattern[0])] = true;
  std::size_t node = 0;
  for (const char c : pattern) {
    const auto byte = static_cast<unsigned char>(c);
    auto& children = nodes[node].children;
    const auto found = std::find_if(children.begin(), children.end(), [byte](const auto& child) { return child.first == byte; });
    if (found != children.end()) {
      node = static_cast<std::size_t>(found->second);
    } else {
      children.emplace_back(byte, static_cast<int>(nodes.size()));
      node = nodes.size();
      nodes.emplace_back();
    }
  }
  if (nodes[node].token < 0) nodes[node].token = token;
}

std::pair<int, std::size_t> AddedVocabulary::Matcher::longest_at(std::string_view text, std::size_t pos) const {
  std::pair<int, std::size_t> best{-1, 0};
  if (!starts[static_cast<unsigned char>(text[pos])]) return best;
  std::size_t node = 0;
  for (std::size_t i = pos; i < text.size(); ++i) {
    const auto byte = static_cast<unsigned char>(text[i]);
    const auto& children = nodes[node].children;
    const auto found = std::find_if(children.begin(), children.end(), [byte](const auto& child) { return child.first == byte; });
    if (found == children.end()) break;
    node = static_cast<std::size_t>(found->second);
    if (nodes[node].token >= 0) best = {nodes[node].token, i + 1 - pos};
  }
  return best;
}

AddedVocabulary::AddedVocabulary(const nlohmann::json& added_tokens, const Normalizer& normalizer) {
  for (const auto& entry : added_tokens) {
    Token token{entry.at("id").get<TokenId>(), entry.at("content").get<std::string>(), entry.value("single_word", false),
                entry.value("lstrip", false), entry.value("rstrip", false), entry.value("normalized", true)};
    const int index = static_cast<int>(tokens_.size());
    if (token.normalized) {
      normalized_matcher_.add(normalizer ? normalizer(token.content) : token.content, index);
    } else {
      raw_matcher_.add(token.content, index);
    }
    if (entry.value("special", false)) special_ids_.insert(token.id);
    ids_by_content_.emplace(token.content, token.id);
    index_by_id_.emplace(token.id, tokens_.size());
    tokens_.push_back(std::move(token));
  }
}

std::optional<TokenId> AddedVocabulary::token_to_id(std::string_view content) const {
  const auto found = ids_by_content_.find(content);
  if (found == ids_by_content_.end()) return std::nullopt;
  return found->second;
}

const std::string* AddedVocabulary::id_to_token(TokenId id) const {
  const auto found = index_by_id_.find(id);
  return found == index_by_id_.end() ? nullptr : &tokens_[found->second].content;
}

std::optional<TokenId> AddedVocabulary::max_id() const {
  if (tokens_.empty()) return std::nullopt;
  return std::max_element(tokens_.begin(), tokens_.end(), [](const Token& a, const Token& b) { return a.id < b.id; })->id;
}

void AddedVocabulary::split_with(const Matcher& matcher, std::string_view text, bool at_input_start,
                                 std::vector<TextSegment>& out) const {
  std::size_t done = 0;  // end of what has been emitted
  for (std::size_t pos = 0; pos < text.size();) {
    const auto [index, length] = matcher.longest_at(text, pos);
    if (index < 0) {
      ++pos;
      continue;
    }
    const Token& token = tokens_[static_cast<std::size_t>(index)];
    std::size_t begin = pos, end = pos + length;
    if (token.single_word) {
      const bool word_before = begin > 0 && is_word_character(code_point_before(text, begin));
      std::size_t after = end;
      const bool word_after = end < text.size() && is_word_character(utf8::next_code_point(text, after));
      if (word_before || word_after) {  // not a token here; the search goes on after it, as HF's
        pos = end;
        continue;
      }
    }
    if (token.lstrip) {
      while (begin > done && utf8::is_whitespace(code_point_before(text, begin))) {
        do --begin;
        while ((static_cast<unsigned char>(text[begin]) & 0xC0) == 0x80);
      }
    }
    if (token.rstrip) {
      for (std::size_t next = end; next < text.size() && utf8::is_whitespace(utf8::next_code_point(text, next));) end = next;
    }
    if (begin > done) out.push_back({std::string(text.substr(done, begin - done)), std::nullopt, at_input_start && done == 0});
    out.push_back({token.content, token.id, at_input_start && begin == 0});
    done = pos = end;
  }
  if (done < text.size()) out.push_back({std::string(text.substr(done)), std::nullopt, at_input_start && done == 0});
}

std::vector<TextSegment> AddedVocabulary::split(std::string_view text, const Normalizer& normalizer) const {
  std::vector<TextSegment> raw;
  split_with(raw_matcher_, text, true, raw);
  std::vector<TextSegment> out;
  out.reserve(raw.size());
  for (auto& segment : raw) {
    if (segment.added) {
      out.push_back(std::move(segment));
    } else {
      split_with(normalized_matcher_, normalizer ? normalizer(segment.text) : segment.text, segment.at_input_start, out);
    }
  }
  return out;
}

}  // namespace llmctl::engine
