#pragma once

#include "serve/server_state.hpp"

#include <nlohmann/json.hpp>

#include <optional>
#include <string>

namespace llmctl::serve {

// What a chat prompt is made of, as /v1/chat/completions and /tokenize receive it.
struct ChatPrompt {
  const nlohmann::ordered_json& messages;
  const nlohmann::ordered_json& tools;
  bool add_generation_prompt = true;
  bool continue_final_message = false;
  const nlohmann::ordered_json& kwargs;                // chat_template_kwargs (and documents)
  const std::optional<std::string>& request_template;  // the request's chat_template
};

// The prompt text: rendered with the request's template, else the server's (ApiError 400 with vLLM's
// message when there is neither); with continue_final_message, cut right after the final message's
// content, as HF does, so that the model continues it.
std::string render_chat(const ServerState& state, const ChatPrompt& prompt);

// The server's tokenizer; ApiError 400 when the model folder has none (then only token ids work).
const engine::Tokenizer& text_tokenizer(const ServerState& state);

}  // namespace llmctl::serve
