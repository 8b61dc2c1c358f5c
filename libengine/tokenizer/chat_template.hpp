#pragma once

#include "tokenizer/tokenizer_config.hpp"

#include <nlohmann/json.hpp>

#include <memory>
#include <optional>
#include <string>
#include <string_view>

namespace llmctl::engine {

namespace jinja {
class Template;
}

// A model's chat template, rendered as transformers' apply_chat_template renders it: variables
// `messages`, `tools` (none when absent), `documents` (none), `add_generation_prompt`, the tokenizer's
// special tokens (bos_token, eos_token, unk_token, pad_token) and any extra keyword arguments
// (enable_thinking, ...), which override the others.
class ChatTemplate {
 public:
  // Throws llmctl::Error "ORIGIN:LINE:COLUMN: ..." for a template that does not parse.
  ChatTemplate(std::string_view source, std::string origin, const TokenizerConfig& special_tokens);
  ~ChatTemplate();
  ChatTemplate(ChatTemplate&&) noexcept;

  // The template a model uses: `override` (vLLM's --chat-template: a file, or the template itself),
  // else the model's own. Throws llmctl::Error when there is none.
  static ChatTemplate for_model(const std::optional<TokenizerConfig>& config, const std::optional<std::string>& override);

  // `messages` is a JSON array of chat messages; `tools` null or an array; `kwargs` an object.
  std::string render(const nlohmann::ordered_json& messages, const nlohmann::ordered_json& tools, bool add_generation_prompt,
                     const nlohmann::ordered_json& kwargs) const;

 private:
  std::unique_ptr<jinja::Template> template_;
  nlohmann::ordered_json special_tokens_;
};

}  // namespace llmctl::engine
