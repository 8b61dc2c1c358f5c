#pragma once

#include <nlohmann/json.hpp>

#include <cstdint>
#include <filesystem>
#include <optional>
#include <string>
#include <string_view>
#include <vector>

namespace llmctl::engine {

struct AddedToken {
  std::int64_t id;
  std::string content;
  bool special;
};

// tokenizer_config.json, plus chat_template.jinja which newer transformers write beside it and which
// takes precedence over the config's chat_template.
struct TokenizerConfig {
  std::optional<std::string> chat_template;       // the default template
  std::vector<std::string> named_chat_templates;  // names of a template list ("tool_use", "rag", ...)
  std::string chat_template_file;                 // where the default template came from
  std::optional<std::string> bos_token;
  std::optional<std::string> eos_token;
  std::optional<std::string> pad_token;
  std::optional<std::string> unk_token;
  std::optional<bool> add_bos_token;
  std::optional<bool> add_eos_token;
  std::optional<std::int64_t> model_max_length;  // absent when the file holds the "no limit" sentinel
  std::string tokenizer_class;
  std::vector<AddedToken> added_tokens;  // from added_tokens_decoder, by id
};

TokenizerConfig parse_tokenizer_config(const nlohmann::json& json, std::string_view origin);

// Reads `folder`/tokenizer_config.json and `folder`/chat_template.jinja; nullopt when neither exists.
std::optional<TokenizerConfig> load_tokenizer_config(const std::filesystem::path& folder);

}  // namespace llmctl::engine
