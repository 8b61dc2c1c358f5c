#pragma once

#include "api/completion_request.hpp"

#include <nlohmann/json.hpp>

#include <optional>
#include <string>
#include <vector>

namespace llmctl::api {

// POST /tokenize: either a completion-style prompt or chat messages (vLLM's TokenizeRequest).
struct TokenizeRequest {
  std::optional<std::string> model;
  std::optional<std::string> prompt;  // exactly one of prompt and messages
  nlohmann::ordered_json messages;    // checked as in parse_chat_request
  nlohmann::ordered_json tools;
  bool add_special_tokens = true;     // vLLM: true for prompt, false by default for messages
  bool add_generation_prompt = true;
  bool continue_final_message = false;
  bool return_token_strs = false;
  nlohmann::ordered_json chat_template_kwargs = nlohmann::ordered_json::object();
  std::optional<std::string> chat_template;
};

// POST /detokenize: {"tokens": [ids]}.
struct DetokenizeRequest {
  std::optional<std::string> model;
  std::vector<TokenId> tokens;
};

TokenizeRequest parse_tokenize_request(const nlohmann::ordered_json& body);      // ApiError 400 on bad input
DetokenizeRequest parse_detokenize_request(const nlohmann::ordered_json& body);  // ApiError 400 on bad input

}  // namespace llmctl::api
