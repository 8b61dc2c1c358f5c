#include "tokenizer/tokenizer_config.hpp"

#include "common/error.hpp"
#include "common/json_file.hpp"

#include <fmt/format.h>

#include <algorithm>
#include <charconv>

namespace llmctl::engine {
namespace {

// Special tokens are written as a string or as {"__type": "AddedToken", "content": ...}.
std::optional<std::string> token_text(const JsonFields& fields, std::string_view key) {
  const auto* value = fields.find(key);
  if (value == nullptr) return std::nullopt;
  if (value->is_string()) return value->get<std::string>();
  if (value->is_object() && value->contains("content") && (*value)["content"].is_string())
    return (*value)["content"].get<std::string>();
  fields.fail(key, "a token string or an object with \"content\"");
}

}  // namespace

TokenizerConfig parse_tokenizer_config(const nlohmann::json& json, std::string_view origin) {
  const JsonFields fields(json, std::string(origin));
  TokenizerConfig config;
  if (const auto* chat_template = fields.find("chat_template")) {
    if (chat_template->is_string()) {
      config.chat_template = chat_template->get<std::string>();
    } else if (chat_template->is_array()) {
      // A list of {"name": ..., "template": ...}; the one named "default" is the default.
      for (const auto& entry : *chat_template) {
        if (!entry.is_object() || !entry.contains("name") || !entry["name"].is_string() || !entry.contains("template") ||
            !entry["template"].is_string())
          fields.fail("chat_template", "a string or a list of {\"name\", \"template\"} objects");
        const auto name = entry["name"].get<std::string>();
        if (name == "default") config.chat_template = entry["template"].get<std::string>();
        else config.named_chat_templates.push_back(name);
      }
    } else {
      fields.fail("chat_template", "a string or a list of {\"name\", \"template\"} objects");
    }
    if (config.chat_template) config.chat_template_file = std::string(origin);
  }
  config.bos_token = token_text(fields, "bos_token");
  config.eos_token = token_text(fields, "eos_token");
  config.pad_token = token_text(fields, "pad_token");
  config.unk_token = token_text(fields, "unk_token");
  if (fields.has("add_bos_token")) config.add_bos_token = fields.boolean("add_bos_token", false);
  if (fields.has("add_eos_token")) config.add_eos_token = fields.boolean("add_eos_token", false);
  // transformers writes 1e30 (VERY_LARGE_INTEGER) when a tokenizer has no limit.
  if (const auto limit = fields.optional_number("model_max_length"); limit && *limit > 0 && *limit < 1e18)
    config.model_max_length = static_cast<std::int64_t>(*limit);
  config.tokenizer_class = fields.string("tokenizer_class", "");
  if (const auto* decoder = fields.find("added_tokens_decoder")) {
    if (!decoder->is_object()) fields.fail("added_tokens_decoder", "an object keyed by token id");
    for (const auto& [id_text, token] : decoder->items()) {
      std::int64_t id = 0;
      const auto [end, ec] = std::from_chars(id_text.data(), id_text.data() + id_text.size(), id);
      if (ec != std::errc{} || end != id_text.data() + id_text.size() || id < 0 || !token.is_object() ||
          !token.contains("content") || !token["content"].is_string())
        fields.fail("added_tokens_decoder", "an object of {\"<id>\": {\"content\": ..., \"special\": ...}}");
      const bool special = token.contains("special") && token["special"].is_boolean() && token["special"].get<bool>();
      config.added_tokens.push_back({id, token["content"].get<std::string>(), special});
    }
    std::sort(config.added_tokens.begin(), config.added_tokens.end(),
              [](const AddedToken& a, const AddedToken& b) { return a.id < b.id; });
  }
  return config;
}

std::optional<TokenizerConfig> load_tokenizer_config(const std::filesystem::path& folder) {
  const auto config_path = folder / "tokenizer_config.json";
  const auto template_path = folder / "chat_template.jinja";
  const bool has_config = std::filesystem::exists(config_path);
  const bool has_template = std::filesystem::exists(template_path);
  if (!has_config && !has_template) return std::nullopt;
  TokenizerConfig config =
      has_config ? parse_tokenizer_config(read_json_file(config_path), config_path.string()) : TokenizerConfig{};
  if (has_template) {
    config.chat_template = read_text_file(template_path);
    config.chat_template_file = template_path.string();
  }
  return config;
}

}  // namespace llmctl::engine
