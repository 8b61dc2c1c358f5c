#pragma once

#include <cstdint>
#include <optional>

namespace llmctl::api {

// vLLM's context-length check (as worded since vLLM PR #22803: v0.10.2, v0.11), before a request reaches the engine: ApiError 400
// "This model's maximum context length is N tokens. However, your request has P input tokens. Please
// reduce the length of the input messages." when the prompt leaves no room for a token, else
// "'max_tokens' or 'max_completion_tokens' is too large: M. This model's maximum context length is N
// tokens and your request has P input tokens (M > N - P)." when prompt + max_tokens exceeds it.
// (Earlier vLLM said "However, you requested M tokens (P in the messages, C in the completion)...")
void check_context_length(std::int64_t max_model_len, std::int64_t prompt_tokens, std::optional<std::int64_t> max_tokens);

}  // namespace llmctl::api
