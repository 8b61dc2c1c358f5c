#include "api/completion_request.hpp"

#include "api/request_fields.hpp"

#include <fmt/format.h>

namespace llmctl::api {

namespace {

constexpr int kDefaultMaxTokens = 16;  // vLLM's CompletionRequest.max_tokens

// vLLM's messages for prompts of no known shape and for empty ones.
constexpr const char* kPromptShape = "prompt must be a string, array of strings, array of tokens, or array of token arrays";
constexpr const char* kNoPrompt = "please provide at least one prompt";

std::vector<TokenId> read_token_ids(const Json& ids, std::string_view name) {
  if (ids.empty()) fail_field("prompt", kNoPrompt);
  std::vector<TokenId> tokens;
  tokens.reserve(ids.size());
  for (std::size_t i = 0; i < ids.size(); ++i) {
    if (!ids[i].is_number()) fail_field("prompt", kPromptShape);
    tokens.push_back(as_token_id(ids[i], fmt::format("{}[{}]", name, i)));
  }
  return tokens;
}

// prompt: str | list[str] | list[int] | list[list[int]], as vLLM's parse_and_batch_prompt reads it.
std::vector<PromptInput> read_prompts(const Json& body) {
  const Json* prompt = find_field(body, "prompt");
  if (!prompt) fail_field("prompt", "At least one of `prompt` or `prompt_embeds` must be set.");
  if (prompt->is_string()) return {prompt->get<std::string>()};
  if (!prompt->is_array()) fail_field("prompt", kPromptShape);
  if (prompt->empty()) fail_field("prompt", kNoPrompt);
  std::vector<PromptInput> prompts;
  const Json& first = prompt->front();
  if (first.is_number()) {
    prompts.emplace_back(read_token_ids(*prompt, "prompt"));
  } else if (first.is_string()) {
    for (const Json& text : *prompt) {
      if (!text.is_string()) fail_field("prompt", kPromptShape);
      prompts.emplace_back(text.get<std::string>());
    }
  } else if (first.is_array()) {
    for (std::size_t i = 0; i < prompt->size(); ++i) {
      const Json& ids = (*prompt)[i];
      if (!ids.is_array()) fail_field("prompt", kPromptShape);
      prompts.emplace_back(read_token_ids(ids, fmt::format("prompt[{}]", i)));
    }
  } else {
    fail_field("prompt", kPromptShape);
  }
  return prompts;
}

}  // namespace

CompletionRequest parse_completion_request(const Json& body_value, const ServingDefaults& defaults) {
  const Json& body = require_object_body(body_value);
  CompletionRequest request;
  request.model = optional_string(body, "model");
  if (find_field(body, "prompt_embeds")) fail_field("prompt_embeds", "prompt_embeds is not supported by llmctl.");
  request.prompts = read_prompts(body);
  if (find_field(body, "suffix")) fail_field("suffix", "suffix is not currently supported");  // vLLM's words

  request.sampling = read_sampling_fields(body, defaults);
  refuse_unsupported_fields(body, request.sampling.n);
  request.stream = read_stream_options(body);
  request.echo = optional_bool(body, "echo").value_or(false);
  request.add_special_tokens = optional_bool(body, "add_special_tokens").value_or(true);

  const int max_tokens = optional_int(body, "max_tokens").value_or(kDefaultMaxTokens);
  // vLLM answers echo with max_tokens 0 by generating one token and returning the prompt alone; the
  // response path for that does not exist here.
  if (request.echo && max_tokens == 0)
    fail_field("max_tokens", "max_tokens 0 with echo (the prompt alone, nothing generated) is not supported by llmctl.");
  request.sampling.max_tokens = cap_max_tokens(max_tokens, defaults);

  if (const auto logprobs = optional_int(body, "logprobs")) {
    if (*logprobs < 0) fail_field("logprobs", "`logprobs` must be a positive value.");
    // vLLM returns the echoed prompt's logprobs too, which are prompt logprobs.
    if (request.echo)
      fail_field("echo", "echo with logprobs needs the prompt's logprobs, which llmctl does not compute.");
    check_logprobs_limit(*logprobs, defaults, "logprobs");
    request.sampling.logprobs = *logprobs;
  }
  validate_sampling(request.sampling);
  return request;
}

}  // namespace llmctl::api
