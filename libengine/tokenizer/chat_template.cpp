#include "tokenizer/chat_template.hpp"

#include "common/error.hpp"
#include "common/json_file.hpp"
#include "tokenizer/jinja/jinja_template.hpp"

#include <filesystem>

namespace llmctl::engine {

ChatTemplate::ChatTemplate(std::string_view source, std::string origin, const TokenizerConfig& config)
    : template_(std::make_unique<jinja::Template>(source, std::move(origin))), special_tokens_(nlohmann::ordered_json::object()) {
  for (const auto& [name, value] : {std::pair{"bos_token", config.bos_token}, {"eos_token", config.eos_token},
                                    {"unk_token", config.unk_token}, {"pad_token", config.pad_token}}) {
    if (value) special_tokens_[name] = *value;
  }
}

ChatTemplate::~ChatTemplate() = default;
ChatTemplate::ChatTemplate(ChatTemplate&&) noexcept = default;

ChatTemplate ChatTemplate::for_model(const std::optional<TokenizerConfig>& config, const std::optional<std::string>& override) {
  const TokenizerConfig special_tokens = config.value_or(TokenizerConfig{});
  if (override) {
    // As vLLM: a readable file is the template; text that looks like a template is one; anything
    // else is a path that does not exist.
    std::error_code error;
    if (std::filesystem::is_regular_file(*override, error)) return ChatTemplate(read_text_file(*override), *override, special_tokens);
    if (override->find_first_of("{}\n") == std::string::npos) {
      throw Error("--chat-template " + *override + ": no such file (and it does not look like a template)");
    }
    return ChatTemplate(*override, "--chat-template", special_tokens);
  }
  if (!config || !config->chat_template) {
    throw Error("this model has no chat template (tokenizer_config.json or chat_template.jinja); give one with --chat-template");
  }
  return ChatTemplate(*config->chat_template, config->chat_template_file, special_tokens);
}

std::string ChatTemplate::render(const nlohmann::ordered_json& messages, const nlohmann::ordered_json& tools,
                                 bool add_generation_prompt, const nlohmann::ordered_json& kwargs) const {
  if (!messages.is_array()) throw Error("messages must be a JSON array");
  if (messages.empty()) throw Error("Cannot apply chat template to an empty conversation. Provide at least one message.");
  if (!tools.is_null() && !tools.is_array()) throw Error("tools must be a JSON array");
  if (!kwargs.is_null() && !kwargs.is_object()) throw Error("chat template kwargs must be a JSON object");
  nlohmann::ordered_json context = {{"messages", messages},
                                    {"tools", tools},
                                    {"documents", nullptr},
                                    {"add_generation_prompt", add_generation_prompt}};
  for (const auto& [name, value] : special_tokens_.items()) context[name] = value;
  if (kwargs.is_object()) {
    for (const auto& [name, value] : kwargs.items()) context[name] = value;
  }
  return template_->render(context);
}

}  // namespace llmctl::engine
