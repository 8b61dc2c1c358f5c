#pragma once

#include "tokenizer/bpe_model.hpp"
#include "tokenizer/normalizer.hpp"

#include <nlohmann/json.hpp>

#include <optional>
#include <string>
#include <string_view>
#include <unordered_map>
#include <unordered_set>
#include <vector>

namespace llmctl::engine {

// A stretch of the input: either an added token found in it, or text for the normalizer, the
// pre-tokenizer and the model. `at_input_start` tells whether it begins at the start of the input.
struct TextSegment {
  std::string text;
  std::optional<TokenId> added;
  bool at_input_start = false;
};

// tokenizer.json's "added_tokens" (<|im_start|>, <think>, ...): found in the text before the model
// runs, longest match first, honouring their lstrip/rstrip/single_word flags. Tokens with
// `normalized: false` are matched in the raw text, the others in the normalized text.
class AddedVocabulary {
 public:
  AddedVocabulary(const nlohmann::json& added_tokens, const Normalizer& normalizer);

  // The input cut into added tokens and normalized text.
  std::vector<TextSegment> split(std::string_view text, const Normalizer& normalizer) const;

  std::optional<TokenId> token_to_id(std::string_view content) const;
  const std::string* id_to_token(TokenId id) const;
  bool is_special(TokenId id) const { return special_ids_.contains(id); }
  std::optional<TokenId> max_id() const;

 private:
  struct Token {
    TokenId id;
    std::string content;
    bool single_word, lstrip, rstrip, normalized;
  };
  // A byte trie over the contents of one group of tokens.
  struct Matcher {
    struct Node {
      std::vector<std::pair<unsigned char, int>> children;
      int token = -1;  // index into tokens_
    };
    std::vector<Node> nodes{Node{}};
    bool starts[256] = {};
    void add(std::string_view pattern, int token);
    // Longest pattern starting at text[pos]: (token index, length), or token -1.
    std::pair<int, std::size_t> longest_at(std::string_view text, std::size_t pos) const;
  };
  void split_with(const Matcher& matcher, std::string_view text, bool at_input_start, std::vector<TextSegment>& out) const;

  std::vector<Token> tokens_;
  Matcher raw_matcher_, normalized_matcher_;
  TokenMap ids_by_content_;
  std::unordered_map<TokenId, std::size_t> index_by_id_;
  std::unordered_set<TokenId> special_ids_;
};

}  // namespace llmctl::engine
