#pragma once

#include "runtime/sampler.hpp"
#include "tokenizer/tokenizer.hpp"

#include <nlohmann/json.hpp>

#include <cstdint>
#include <span>
#include <string>

namespace llmctl::api {

using engine::TokenId;

// A token as vLLM shows it in logprobs: its own decode with special tokens kept (vLLM's decoded_token),
// or "token_id:<id>" when the server has no tokenizer (as vLLM's return_tokens_as_token_ids).
std::string logprob_token_string(TokenId token, const engine::Tokenizer* tokenizer);

// The legacy /v1/completions shape, {"text_offset","token_logprobs","tokens","top_logprobs"}. Each
// top_logprobs entry is {token: logprob} over the sampled token first, then its alternatives, the first
// `num_top` + 1 of them as vLLM counts. text_offset counts characters (code points): the first is
// `initial_text_offset`, each next one adds the previous token string's length.
nlohmann::ordered_json completion_logprobs(std::span<const engine::SampledToken> sampled, int num_top,
                                           std::int64_t initial_text_offset, const engine::Tokenizer* tokenizer);

// The chat shape, {"content":[{"token","logprob","bytes","top_logprobs":[{"token","logprob","bytes"}]}]}.
// top_logprobs holds the first `num_top` (-1: all) of the sampled token followed by its alternatives,
// as vLLM lists them (so a sampled token ranked below num_top still comes first).
nlohmann::ordered_json chat_logprobs(std::span<const engine::SampledToken> sampled, int num_top,
                                     const engine::Tokenizer* tokenizer);

// Characters (code points) of a UTF-8 string, as Python's len() counts them.
std::int64_t utf8_length(const std::string& text);

}  // namespace llmctl::api
