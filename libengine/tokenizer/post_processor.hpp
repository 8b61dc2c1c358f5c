#pragma once

#include "tokenizer/bpe_model.hpp"

#include <nlohmann/json.hpp>

#include <vector>

namespace llmctl::engine {

// tokenizer.json's "post_processor" for one sequence: the special tokens a TemplateProcessing adds
// around the text (Llama-3.1's <|begin_of_text|>, Mistral's <s>) when special tokens are requested.
// ByteLevel post-processing only adjusts offsets, which this engine does not track.
class PostProcessor {
 public:
  explicit PostProcessor(const nlohmann::json& spec);
  std::vector<TokenId> apply(std::vector<TokenId> ids, bool add_special_tokens) const;

 private:
  void add(const nlohmann::json& spec);
  std::vector<TokenId> prefix_, suffix_;
};

}  // namespace llmctl::engine
