#include "api/context_length.hpp"

#include "api/api_error.hpp"

#include <fmt/format.h>

namespace llmctl::api {

// vLLM's OpenAIServing._validate_input as reworded by vLLM PR #22803 (v0.10.2, v0.11): the
// prompt must leave room for at least one token, then prompt + max_tokens must fit. param is null, as
// in vLLM.
void check_context_length(std::int64_t max_model_len, std::int64_t prompt_tokens, std::optional<std::int64_t> max_tokens) {
  if (prompt_tokens >= max_model_len)
    throw ApiError::bad_request(fmt::format("This model's maximum context length is {} tokens. However, your request has {} "
                                            "input tokens. Please reduce the length of the input messages.",
                                            max_model_len, prompt_tokens));
  if (max_tokens && prompt_tokens + *max_tokens > max_model_len)
    throw ApiError::bad_request(
        fmt::format("'max_tokens' or 'max_completion_tokens' is too large: {}. This model's maximum context length is {} "
                    "tokens and your request has {} input tokens ({} > {} - {}).",
                    *max_tokens, max_model_len, prompt_tokens, *max_tokens, max_model_len, prompt_tokens));
}

}  // namespace llmctl::api
