#include "api/completion_response.hpp"

#include "api/logprobs.hpp"
#include "common/error.hpp"

#include <algorithm>
#include <numeric>
#include <utility>

namespace llmctl::api {

namespace {

nlohmann::ordered_json stop_reason_json(const std::variant<std::monostate, std::string, TokenId>& stop_reason) {
  if (const auto* text = std::get_if<std::string>(&stop_reason)) return *text;
  if (const auto* token = std::get_if<TokenId>(&stop_reason)) return *token;
  return nullptr;
}

nlohmann::ordered_json finish_reason_json(const std::optional<engine::FinishReason>& reason) {
  if (!reason) return nullptr;
  return std::string(engine::finish_reason_name(*reason));
}

}  // namespace

CompletionResponse::CompletionResponse(const CompletionRequest& request, ResponseHeader header,
                                       std::vector<PromptTokens> prompts, const engine::Tokenizer* tokenizer)
    : n_(std::max(request.sampling.n, 1)),
      logprobs_(request.sampling.logprobs),
      stream_(request.stream.stream),
      echo_(request.echo),
      // vLLM: continuous_usage_stats counts only together with include_usage.
      continuous_usage_(request.stream.include_usage && request.stream.continuous_usage_stats),
      header_(std::move(header)),
      prompts_(std::move(prompts)),
      tokenizer_(tokenizer),
      choices_(prompts_.size() * static_cast<std::size_t>(n_)),
      cached_tokens_(prompts_.size(), 0) {}

// The echoed prompt: its text as given, else its ids decoded with special tokens (as vLLM does for
// token prompts), else nothing without a tokenizer.
std::string CompletionResponse::prompt_text(std::size_t prompt) const {
  const auto& tokens = prompts_[prompt];
  if (tokens.text) return *tokens.text;
  return tokenizer_ != nullptr ? tokenizer_->decode(tokens.ids, false) : std::string();
}

nlohmann::ordered_json CompletionResponse::choice_logprobs(std::span<const engine::SampledToken> sampled,
                                                           std::int64_t initial_text_offset) const {
  if (!logprobs_) return nullptr;
  return completion_logprobs(sampled, *logprobs_, initial_text_offset, tokenizer_);
}

// vLLM's UsageInfo: prompt_tokens, total_tokens, completion_tokens, prompt_tokens_details.
nlohmann::ordered_json CompletionResponse::usage(std::int64_t prompt_tokens, std::int64_t completion_tokens,
                                                 std::int64_t cached_tokens) const {
  nlohmann::ordered_json usage;
  usage["prompt_tokens"] = prompt_tokens;
  usage["total_tokens"] = prompt_tokens + completion_tokens;
  usage["completion_tokens"] = completion_tokens;
  usage["prompt_tokens_details"] = nullptr;
  if (header_.prompt_tokens_details && cached_tokens > 0) usage["prompt_tokens_details"] = {{"cached_tokens", cached_tokens}};
  return usage;
}

nlohmann::ordered_json CompletionResponse::total_usage(std::int64_t cached_tokens, bool null_details) const {
  std::int64_t prompt_tokens = 0;
  for (const auto& prompt : prompts_) prompt_tokens += static_cast<std::int64_t>(prompt.ids.size());
  const std::int64_t completion_tokens = std::accumulate(
      choices_.begin(), choices_.end(), std::int64_t{0}, [](std::int64_t sum, const Choice& c) { return sum + c.num_tokens; });
  auto result = usage(prompt_tokens, completion_tokens, cached_tokens);
  if (!null_details && result["prompt_tokens_details"].is_null()) result.erase("prompt_tokens_details");
  return result;
}

std::vector<nlohmann::ordered_json> CompletionResponse::add(std::size_t prompt, const engine::RequestOutput& output) {
  if (prompt >= prompts_.size()) throw Error("internal: an output for prompt " + std::to_string(prompt) + " of " +
                                             std::to_string(prompts_.size()));
  if (!first_cached_tokens_) first_cached_tokens_ = output.num_cached_tokens;
  cached_tokens_[prompt] = output.num_cached_tokens;

  std::vector<nlohmann::ordered_json> chunks;
  for (const auto& update : output.updates) {
    if (update.index < 0 || update.index >= n_)
      throw Error("internal: an output for choice " + std::to_string(update.index) + " of " + std::to_string(n_));
    const std::size_t index = prompt * static_cast<std::size_t>(n_) + static_cast<std::size_t>(update.index);
    Choice& choice = choices_[index];
    if (choice.finish_reason) continue;  // nothing follows a choice's end
    choice.text += update.text;
    choice.num_tokens += static_cast<std::int64_t>(update.token_ids.size());
    choice.logprobs.insert(choice.logprobs.end(), update.logprobs.begin(), update.logprobs.end());
    choice.finish_reason = update.finish_reason;
    choice.stop_reason = update.stop_reason;
    if (!stream_) continue;

    // echo sends the prompt with the first chunk of each choice.
    std::string text = update.text;
    if (echo_ && !choice.echoed) {
      const std::string prompt_echo = prompt_text(prompt);
      choice.sent_text_length = utf8_length(prompt_echo);
      text = prompt_echo + text;
    }
    choice.unsent_logprobs.insert(choice.unsent_logprobs.end(), update.logprobs.begin(), update.logprobs.end());
    // As vLLM: a chunk for every output with new tokens, even when they have no text yet (part of a
    // character, a possible stop string, a model without tokenizer): streaming clients time tokens by
    // chunks.
    if (text.empty() && update.token_ids.empty() && !choice.finish_reason) continue;
    choice.echoed = true;
    const std::int64_t text_offset = choice.sent_text_length;
    choice.sent_text_length += utf8_length(update.text);

    nlohmann::ordered_json entry;
    entry["index"] = index;
    entry["text"] = text;
    entry["logprobs"] = choice_logprobs(choice.unsent_logprobs, text_offset);
    entry["finish_reason"] = finish_reason_json(choice.finish_reason);
    entry["stop_reason"] = stop_reason_json(choice.stop_reason);
    choice.unsent_logprobs.clear();

    nlohmann::ordered_json chunk;
    chunk["id"] = header_.id;
    chunk["object"] = "text_completion";
    chunk["created"] = header_.created;
    chunk["model"] = header_.model;
    chunk["choices"] = nlohmann::ordered_json::array({std::move(entry)});
    // vLLM writes these chunks with every field, so usage is null unless continuous.
    chunk["usage"] = continuous_usage_ ? usage(static_cast<std::int64_t>(prompts_[prompt].ids.size()), choice.num_tokens, 0)
                                       : nlohmann::ordered_json();
    chunks.push_back(std::move(chunk));
  }
  return chunks;
}

nlohmann::ordered_json CompletionResponse::usage_chunk() const {
  nlohmann::ordered_json chunk;
  chunk["id"] = header_.id;
  chunk["object"] = "text_completion";
  chunk["created"] = header_.created;
  chunk["model"] = header_.model;
  chunk["choices"] = nlohmann::ordered_json::array();
  chunk["usage"] = total_usage(first_cached_tokens_.value_or(0), false);  // written without null fields
  return chunk;
}

nlohmann::ordered_json CompletionResponse::response() const {
  auto choices = nlohmann::ordered_json::array();
  for (std::size_t index = 0; index < choices_.size(); ++index) {
    const Choice& choice = choices_[index];
    // The logprobs cover the generated tokens, which come after an echoed prompt.
    const std::string echoed = echo_ ? prompt_text(index / static_cast<std::size_t>(n_)) : std::string();
    std::string text = echoed + choice.text;
    nlohmann::ordered_json entry;
    entry["index"] = index;
    entry["text"] = std::move(text);
    entry["logprobs"] = choice_logprobs(choice.logprobs, utf8_length(echoed));
    entry["finish_reason"] = finish_reason_json(choice.finish_reason);
    entry["stop_reason"] = stop_reason_json(choice.stop_reason);
    entry["prompt_logprobs"] = nullptr;
    choices.push_back(std::move(entry));
  }

  nlohmann::ordered_json response;
  response["id"] = header_.id;
  response["object"] = "text_completion";
  response["created"] = header_.created;
  response["model"] = header_.model;
  response["choices"] = std::move(choices);
  response["service_tier"] = nullptr;
  response["system_fingerprint"] = nullptr;
  // vLLM reports the cached tokens of the last prompt here.
  response["usage"] = total_usage(cached_tokens_.empty() ? 0 : cached_tokens_.back(), true);
  response["kv_transfer_params"] = nullptr;
  return response;
}

}  // namespace llmctl::api
