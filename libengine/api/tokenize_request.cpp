#include "api/tokenize_request.hpp"

#include "api/chat_request.hpp"
#include "api/request_fields.hpp"

#include <fmt/format.h>

namespace llmctl::api {

// vLLM's TokenizeRequest is a union of TokenizeCompletionRequest ({prompt}) and TokenizeChatRequest
// ({messages}); which one a body is follows from which of the two it has.
TokenizeRequest parse_tokenize_request(const Json& body_value) {
  const Json& body = require_object_body(body_value);
  TokenizeRequest request;
  request.model = optional_string(body, "model");
  const bool has_prompt = find_field(body, "prompt") != nullptr;
  const bool has_messages = find_field(body, "messages") != nullptr;
  if (has_prompt && has_messages) fail_field("prompt", "Give either `prompt` or `messages`, not both.");
  if (!has_prompt && !has_messages) fail_field("prompt", "Either `prompt` or `messages` is required.");
  request.return_token_strs = optional_bool(body, "return_token_strs").value_or(false);
  if (has_prompt) {
    request.prompt = optional_string(body, "prompt");
    request.add_special_tokens = optional_bool(body, "add_special_tokens").value_or(true);
    return request;
  }
  request.messages = parse_chat_messages(body);
  request.tools = parse_chat_tools(body);
  const GenerationPromptFlags flags = read_generation_prompt_flags(body);
  request.add_generation_prompt = flags.add_generation_prompt;
  request.continue_final_message = flags.continue_final_message;
  // The chat template adds the special tokens a chat needs.
  request.add_special_tokens = optional_bool(body, "add_special_tokens").value_or(false);
  request.chat_template = optional_string(body, "chat_template");
  request.chat_template_kwargs = optional_object(body, "chat_template_kwargs");
  return request;
}

DetokenizeRequest parse_detokenize_request(const Json& body_value) {
  const Json& body = require_object_body(body_value);
  DetokenizeRequest request;
  request.model = optional_string(body, "model");
  const Json* tokens = find_field(body, "tokens");
  if (!tokens) fail_field("tokens", "tokens is required.");
  as_array(*tokens, "tokens");
  request.tokens.reserve(tokens->size());
  for (std::size_t i = 0; i < tokens->size(); ++i) request.tokens.push_back(as_token_id((*tokens)[i], fmt::format("tokens[{}]", i)));
  return request;
}

}  // namespace llmctl::api
