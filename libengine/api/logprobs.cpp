#include "api/logprobs.hpp"

#include <cmath>
#include <utility>
#include <vector>

namespace llmctl::api {

namespace {

// OpenAI's stand-in for -inf (JSON has no infinities); NaN, which JSON lacks too, goes the same way.
double clamp_logprob(float logprob) {
  const double value = logprob;
  return std::isnan(value) || value < -9999.0 ? -9999.0 : value;
}

// vLLM's per-position logprobs dict: the sampled token first, then the top alternatives in order; a
// token listed twice keeps its first place.
std::vector<std::pair<TokenId, float>> ranked_candidates(const engine::SampledToken& sampled) {
  std::vector<std::pair<TokenId, float>> candidates{{sampled.token, sampled.logprob}};
  for (const auto& top : sampled.top_logprobs) {
    bool listed = false;
    for (auto& [token, logprob] : candidates)
      if (token == top.token) {
        logprob = top.logprob;
        listed = true;
      }
    if (!listed) candidates.emplace_back(top.token, top.logprob);
  }
  return candidates;
}

nlohmann::ordered_json byte_list(const std::string& text) {
  auto bytes = nlohmann::ordered_json::array();
  for (const char c : text) bytes.push_back(static_cast<int>(static_cast<unsigned char>(c)));
  return bytes;
}

}  // namespace

std::string logprob_token_string(TokenId token, const engine::Tokenizer* tokenizer) {
  if (tokenizer == nullptr) return "token_id:" + std::to_string(token);
  const TokenId ids[] = {token};
  return tokenizer->decode(ids, false);
}

std::int64_t utf8_length(const std::string& text) {
  std::int64_t length = 0;
  for (const char c : text)
    if ((static_cast<unsigned char>(c) & 0xC0) != 0x80) ++length;
  return length;
}

nlohmann::ordered_json completion_logprobs(std::span<const engine::SampledToken> sampled, int num_top,
                                           std::int64_t initial_text_offset, const engine::Tokenizer* tokenizer) {
  auto text_offset = nlohmann::ordered_json::array();
  auto token_logprobs = nlohmann::ordered_json::array();
  auto tokens = nlohmann::ordered_json::array();
  auto top_logprobs = nlohmann::ordered_json::array();
  std::int64_t offset = initial_text_offset;
  for (const auto& step : sampled) {
    const std::string token = logprob_token_string(step.token, tokenizer);
    text_offset.push_back(offset);
    offset += utf8_length(token);
    tokens.push_back(token);
    token_logprobs.push_back(clamp_logprob(step.logprob));
    // vLLM keeps entries i <= num_top: the sampled token plus num_top alternatives. Tokens that decode
    // alike share one key, which keeps its first place and takes the later value, as a Python dict.
    auto top = nlohmann::ordered_json::object();
    const auto candidates = ranked_candidates(step);
    for (std::size_t i = 0; i < candidates.size() && static_cast<std::int64_t>(i) <= num_top; ++i)
      top[logprob_token_string(candidates[i].first, tokenizer)] = clamp_logprob(candidates[i].second);
    top_logprobs.push_back(std::move(top));
  }

  nlohmann::ordered_json result;
  result["text_offset"] = std::move(text_offset);
  result["token_logprobs"] = std::move(token_logprobs);
  result["tokens"] = std::move(tokens);
  result["top_logprobs"] = std::move(top_logprobs);
  return result;
}

nlohmann::ordered_json chat_logprobs(std::span<const engine::SampledToken> sampled, int num_top,
                                     const engine::Tokenizer* tokenizer) {
  auto content = nlohmann::ordered_json::array();
  for (const auto& step : sampled) {
    nlohmann::ordered_json entry;
    entry["token"] = logprob_token_string(step.token, tokenizer);
    entry["logprob"] = clamp_logprob(step.logprob);
    // vLLM takes these bytes from the decoded token, which it lacks without a tokenizer.
    entry["bytes"] = tokenizer != nullptr ? byte_list(entry["token"].get<std::string>()) : nlohmann::ordered_json();
    auto top = nlohmann::ordered_json::array();
    const auto candidates = ranked_candidates(step);
    for (std::size_t i = 0; i < candidates.size() && (num_top == -1 || static_cast<std::int64_t>(i) < num_top); ++i) {
      const std::string token = logprob_token_string(candidates[i].first, tokenizer);
      top.push_back({{"token", token}, {"logprob", clamp_logprob(candidates[i].second)}, {"bytes", byte_list(token)}});
    }
    entry["top_logprobs"] = std::move(top);
    content.push_back(std::move(entry));
  }
  nlohmann::ordered_json result;
  result["content"] = std::move(content);
  return result;
}

}  // namespace llmctl::api
