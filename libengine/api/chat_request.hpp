#pragma once

#include "api/completion_request.hpp"

#include <nlohmann/json.hpp>

#include <optional>
#include <string>

namespace llmctl::api {

// "required" and named functions need structured output (guided decoding), which llmctl lacks: they
// are refused with a 400 rather than answered with unconstrained text.
enum class ToolChoice { none, automatic };

// POST /v1/chat/completions (vLLM's ChatCompletionRequest): the fields llmctl honours, checked.
struct ChatRequest {
  std::optional<std::string> model;
  // Checked: an array of objects with a string role; content a string, null, or an array of
  // {"type":"text","text":...} parts, which are joined into one string (vLLM's "string" content format)
  // so that templates see plain strings (null: ""). tool_calls (string arguments parsed to JSON values,
  // as vLLM does), tool_call_id, name, reasoning_content pass through; other keys are dropped.
  nlohmann::ordered_json messages;
  nlohmann::ordered_json tools;  // null, or an array of {"type":"function","function":{"name",...}}
  ToolChoice tool_choice = ToolChoice::none;  // "auto" when tools are given and tool_choice is not
  engine::SamplingParams sampling;  // top_logprobs -> sampling.logprobs (needs logprobs: true)
  // max_completion_tokens, else max_tokens, as sent (vLLM's context check uses it); unset: whatever the
  // context leaves (the server decides). sampling.max_tokens holds it capped by the generation config's
  // max_new_tokens; with none given, max_new_tokens or INT_MAX, for the server to clamp to the context.
  std::optional<int> max_tokens;
  bool logprobs = false;
  StreamOptions stream;
  bool echo = false;
  bool add_generation_prompt = true;
  bool continue_final_message = false;  // excludes add_generation_prompt, as in vLLM
  bool add_special_tokens = false;
  std::optional<std::string> chat_template;          // a template given with the request
  nlohmann::ordered_json chat_template_kwargs = nlohmann::ordered_json::object();
  nlohmann::ordered_json documents;  // null or an array
};

// As parse_completion_request, for chat. Throws ApiError 400 (messages missing or empty, a message
// without a role, top_logprobs without logprobs, tool_choice "required"...).
ChatRequest parse_chat_request(const nlohmann::ordered_json& body, const ServingDefaults& defaults);

// The parts of parse_chat_request that /tokenize shares.
// `messages`, checked and normalised as vLLM's parse_chat_messages does for a "string" template:
// content becomes one string (null: ""), tool_calls' string arguments become JSON values.
nlohmann::ordered_json parse_chat_messages(const nlohmann::ordered_json& body);
// `tools` (null when absent) in the shape vLLM hands templates: {"type","function":{"name",
// "description","parameters",...}}, description and parameters null when not given.
nlohmann::ordered_json parse_chat_tools(const nlohmann::ordered_json& body);

struct GenerationPromptFlags {
  bool add_generation_prompt = true;
  bool continue_final_message = false;
};
// Both true: vLLM's 400. add_generation_prompt left unset defaults to !continue_final_message.
GenerationPromptFlags read_generation_prompt_flags(const nlohmann::ordered_json& body);

}  // namespace llmctl::api
