#pragma once

#include "runtime/sampler.hpp"

#include <cstdint>
#include <optional>
#include <string>
#include <string_view>
#include <variant>
#include <vector>

namespace llmctl::engine {

enum class FinishReason { stop, length, abort };

std::string_view finish_reason_name(FinishReason reason);  // "stop", "length", "abort"

// What one choice of a request produced in one step.
struct CompletionUpdate {
  int index = 0;                   // the choice, 0 to n - 1
  std::vector<TokenId> token_ids;  // new tokens
  std::string text;                // new text (text that may still turn into a stop string is held back)
  std::vector<SampledToken> logprobs;  // one per new token when the request asked for logprobs
  std::optional<FinishReason> finish_reason;
  // vLLM's stop_reason: the stop string or stop token id that ended the choice (none for EOS or length).
  std::variant<std::monostate, std::string, TokenId> stop_reason;
};

struct RequestOutput {
  std::string request_id;
  std::vector<CompletionUpdate> updates;
  bool finished = false;  // every choice has finished: this is the request's last output
  std::int64_t num_prompt_tokens = 0;
  std::int64_t num_cached_tokens = 0;  // prompt tokens served from the prefix cache
};

}  // namespace llmctl::engine
