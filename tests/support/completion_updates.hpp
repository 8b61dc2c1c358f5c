#pragma once

#include "runtime/request_output.hpp"

#include <optional>
#include <string>
#include <variant>
#include <vector>

namespace llmctl::test {

// One choice's part of an engine output, as the response builders' tests feed them.
inline engine::CompletionUpdate update(int index, std::vector<engine::TokenId> ids, std::string text,
                                       std::optional<engine::FinishReason> finish = {},
                                       std::variant<std::monostate, std::string, engine::TokenId> stop = {},
                                       std::vector<engine::SampledToken> logprobs = {}) {
  engine::CompletionUpdate result;
  result.index = index;
  result.token_ids = std::move(ids);
  result.text = std::move(text);
  result.logprobs = std::move(logprobs);
  result.finish_reason = finish;
  result.stop_reason = std::move(stop);
  return result;
}

}  // namespace llmctl::test
