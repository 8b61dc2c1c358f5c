#include "serve/chat_prompt.hpp"

#include "api/api_error.hpp"

namespace llmctl::serve {
namespace {

std::string cut_after_final_message(const std::string& rendered, const nlohmann::ordered_json& messages) {
  const auto& last = messages.back();
  const std::string content = last.contains("content") && last["content"].is_string() ? last["content"].get<std::string>() : "";
  const auto begin = content.find_first_not_of(" \t\n\r");
  const auto end = content.find_last_not_of(" \t\n\r");
  const std::string stripped = begin == std::string::npos ? "" : content.substr(begin, end - begin + 1);
  const auto at = rendered.rfind(stripped);
  if (stripped.empty() || at == std::string::npos)
    throw api::ApiError(400, "continue_final_message: the final message's content was not found in the rendered chat");
  return rendered.substr(0, at + stripped.size());
}

}  // namespace

std::string render_chat(const ServerState& state, const ChatPrompt& prompt) {
  std::optional<engine::ChatTemplate> own;
  if (prompt.request_template)
    own.emplace(*prompt.request_template, "chat_template", state.tokenizer_config.value_or(engine::TokenizerConfig{}));
  const engine::ChatTemplate* chat = own ? &*own : state.chat_template ? &*state.chat_template : nullptr;
  if (!chat)
    throw api::ApiError(400, "As of transformers v4.44, default chat template is no longer allowed, so you must provide a "
                             "chat template if the tokenizer does not define one.");
  const std::string text = chat->render(prompt.messages, prompt.tools, prompt.add_generation_prompt, prompt.kwargs);
  return prompt.continue_final_message ? cut_after_final_message(text, prompt.messages) : text;
}

const engine::Tokenizer& text_tokenizer(const ServerState& state) {
  if (!state.tokenizer) throw api::ApiError(400, "this model has no tokenizer.json: only token ids can be used");
  return *state.tokenizer;
}

}  // namespace llmctl::serve
