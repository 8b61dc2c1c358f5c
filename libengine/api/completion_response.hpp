#pragma once

#include "api/completion_request.hpp"
#include "runtime/request_output.hpp"
#include "tokenizer/tokenizer.hpp"

#include <nlohmann/json.hpp>

#include <cstdint>
#include <optional>
#include <span>
#include <string>
#include <variant>
#include <vector>

namespace llmctl::api {

// A prompt as it went to the engine: its text (when it was given as text) and its token ids.
struct PromptTokens {
  std::optional<std::string> text;
  std::vector<TokenId> ids;
};

// What identifies a response: "cmpl-..."/"chatcmpl-..." id, the served model name, creation time.
struct ResponseHeader {
  std::string id;
  std::string model;
  std::int64_t created = 0;  // Unix seconds
  // --enable-prompt-tokens-details: usage carries prompt_tokens_details.cached_tokens when any were.
  bool prompt_tokens_details = false;
};

// Builds the /v1/completions answer of one HTTP request from the engine's outputs, as vLLM writes it:
// choice index = prompt * n + choice; echo puts the prompt before the first text; logprobs in the
// legacy shape (tokens, token_logprobs, top_logprobs, text_offset); usage with the prompt, completion
// and total token counts (prompt_tokens_details.cached_tokens when asked).
class CompletionResponse {
 public:
  CompletionResponse(const CompletionRequest& request, ResponseHeader header, std::vector<PromptTokens> prompts,
                     const engine::Tokenizer* tokenizer);

  // Records one output of prompt `prompt`; when streaming, returns the chunks to send for it
  // ("object":"text_completion"; usage on each with continuous_usage_stats).
  std::vector<nlohmann::ordered_json> add(std::size_t prompt, const engine::RequestOutput& output);
  // {"choices": [], "usage": ...}: the last chunk before [DONE] with stream_options.include_usage.
  nlohmann::ordered_json usage_chunk() const;
  // The whole non-streaming response, once every prompt has finished.
  nlohmann::ordered_json response() const;

 private:
  struct Choice {
    std::string text;                                  // generated text
    std::vector<engine::SampledToken> logprobs;        // one per generated token, when asked
    std::vector<engine::SampledToken> unsent_logprobs;  // streaming: of tokens whose text is still to come
    std::int64_t sent_text_length = 0;                 // streaming: characters sent, echo included
    std::int64_t num_tokens = 0;
    std::optional<engine::FinishReason> finish_reason;
    std::variant<std::monostate, std::string, TokenId> stop_reason;
    bool echoed = false;  // streaming: the prompt went out
  };
  std::string prompt_text(std::size_t prompt) const;
  nlohmann::ordered_json choice_logprobs(std::span<const engine::SampledToken> sampled, std::int64_t initial_text_offset) const;
  nlohmann::ordered_json usage(std::int64_t prompt_tokens, std::int64_t completion_tokens,
                               std::int64_t cached_tokens) const;
  nlohmann::ordered_json total_usage(std::int64_t cached_tokens, bool null_details) const;

  int n_;
  std::optional<int> logprobs_;
  bool stream_;
  bool echo_;
  bool continuous_usage_;
  ResponseHeader header_;
  std::vector<PromptTokens> prompts_;
  const engine::Tokenizer* tokenizer_;
  std::vector<Choice> choices_;              // prompt * n + choice
  std::vector<std::int64_t> cached_tokens_;  // per prompt, as its last output said
  std::optional<std::int64_t> first_cached_tokens_;  // of the first output: what a stream's usage reports
};

}  // namespace llmctl::api
