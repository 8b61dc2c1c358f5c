#pragma once

#include "api/chat_request.hpp"
#include "api/completion_response.hpp"
#include "api/reasoning_parser.hpp"
#include "api/tool_call_parser.hpp"

#include <nlohmann/json.hpp>

#include <memory>
#include <string>
#include <vector>

namespace llmctl::api {

// The server's parsers: empty names mean none (vLLM's --reasoning-parser, and --tool-call-parser with
// --enable-auto-tool-choice).
struct OutputParsers {
  std::string reasoning;  // "" | "deepseek_r1" | "qwen3"
  std::string tool_call;  // "" | "hermes"
};

// Builds the /v1/chat/completions answer of one HTTP request, as vLLM writes it: the first chunk of each
// choice carries delta.role "assistant" (and the prompt's last message content with echo); text goes
// through the reasoning parser (reasoning_content) and then, when the request has tools and tool_choice
// is not "none", the tool-call parser (tool_calls; finish_reason "tool_calls"); logprobs in the chat
// shape ({"content":[{"token","logprob","bytes","top_logprobs"}]}).
class ChatResponse {
 public:
  ChatResponse(const ChatRequest& request, ResponseHeader header, PromptTokens prompt, const engine::Tokenizer* tokenizer,
               const OutputParsers& parsers);

  std::vector<nlohmann::ordered_json> add(const engine::RequestOutput& output);  // as CompletionResponse::add
  nlohmann::ordered_json usage_chunk() const;
  nlohmann::ordered_json response() const;

 private:
  struct Choice;
  // (private members as the implementation needs)
  struct State;
  std::unique_ptr<State> state_;

 public:
  ~ChatResponse();
  ChatResponse(ChatResponse&&) noexcept;
};

}  // namespace llmctl::api
