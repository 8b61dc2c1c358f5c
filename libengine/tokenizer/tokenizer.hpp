#pragma once

#include "tokenizer/bpe_model.hpp"

#include <nlohmann/json.hpp>

#include <filesystem>
#include <memory>
#include <optional>
#include <span>
#include <string>
#include <string_view>
#include <vector>

namespace llmctl::engine {

// A Hugging Face tokenizer.json, run as HF `tokenizers` runs it: added tokens are cut out of the text,
// the rest is normalized, pre-tokenized and split into BPE tokens, and the post-processor adds the
// special tokens. Immutable after loading and safe to share between threads.
class Tokenizer {
 public:
  // Throws llmctl::Error naming the file and what in it is unsupported or malformed.
  static Tokenizer load(const std::filesystem::path& tokenizer_json);
  explicit Tokenizer(const nlohmann::json& spec);
  ~Tokenizer();
  Tokenizer(Tokenizer&&) noexcept;
  Tokenizer& operator=(Tokenizer&&) noexcept;

  // `text` must be valid UTF-8 (llmctl::Error otherwise). Special tokens written in the text are
  // recognised; `add_special_tokens` adds those of the post-processor (a BOS, for instance).
  std::vector<TokenId> encode(std::string_view text, bool add_special_tokens) const;

  // Ids this tokenizer does not know are skipped, as HF does; invalid UTF-8 becomes U+FFFD.
  std::string decode(std::span<const TokenId> ids, bool skip_special_tokens) const;

  std::optional<TokenId> token_to_id(std::string_view token) const;
  std::optional<std::string> id_to_token(TokenId id) const;
  bool is_special(TokenId id) const;
  // One more than the largest id of the model or the added tokens.
  std::size_t vocab_size() const;

 private:
  struct Pipeline;
  std::unique_ptr<Pipeline> pipeline_;
};

}  // namespace llmctl::engine
