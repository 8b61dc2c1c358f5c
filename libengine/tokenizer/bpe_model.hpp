#pragma once

#include <nlohmann/json.hpp>

#include <cstdint>
#include <memory>
#include <mutex>
#include <optional>
#include <string>
#include <string_view>
#include <unordered_map>
#include <vector>

namespace llmctl::engine {

using TokenId = std::int32_t;

// Hash for maps keyed by std::string that can be searched with a std::string_view.
struct StringHash {
  using is_transparent = void;
  std::size_t operator()(std::string_view text) const { return std::hash<std::string_view>{}(text); }
};
using TokenMap = std::unordered_map<std::string, TokenId, StringHash, std::equal_to<>>;

// tokenizer.json's "model" of type BPE: a vocabulary and ranked merges. A piece starts as one symbol
// per character (or per byte through "<0xNN>" tokens when byte_fallback is on) and the adjacent pair
// with the lowest merge rank anywhere in the piece is merged until no pair has a merge.
class BpeModel {
 public:
  explicit BpeModel(const nlohmann::json& spec);

  // Appends the ids of one pre-tokenized piece to `out`. Thread-safe.
  void tokenize(std::string_view piece, std::vector<TokenId>& out) const;

  std::optional<TokenId> token_to_id(std::string_view token) const;
  const std::string* id_to_token(TokenId id) const;
  TokenId max_id() const { return static_cast<TokenId>(tokens_by_id_.size()) - 1; }

 private:
  struct Merge {
    std::uint32_t rank;
    TokenId merged;
  };
  void merge(std::string_view piece, std::vector<TokenId>& out) const;
  void initial_symbols(std::string_view piece, std::vector<TokenId>& symbols) const;

  TokenMap vocab_;
  std::vector<std::string> tokens_by_id_;
  std::unordered_map<std::uint64_t, Merge> merges_;  // key: left id << 32 | right id
  std::optional<TokenId> unk_id_;
  std::string continuing_subword_prefix_;
  std::string end_of_word_suffix_;
  bool byte_fallback_ = false;
  bool fuse_unk_ = false;
  bool ignore_merges_ = false;
  TokenId byte_tokens_[256];  // id of "<0xNN>" per byte, -1 when absent (byte_fallback)

  // Results for pieces seen before: text repeats, so most pieces skip the merge loop.
  mutable std::mutex cache_mutex_;
  mutable std::unordered_map<std::string, std::vector<TokenId>, StringHash, std::equal_to<>> cache_;
};

}  // namespace llmctl::engine
