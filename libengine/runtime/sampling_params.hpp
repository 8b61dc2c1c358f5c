#pragma once

#include "tokenizer/bpe_model.hpp"

#include <cstdint>
#include <optional>
#include <string>
#include <vector>

namespace llmctl::engine {

// vLLM's SamplingParams: the same names, defaults and meaning.
struct SamplingParams {
  int n = 1;
  double presence_penalty = 0.0;    // output tokens only
  double frequency_penalty = 0.0;   // output tokens only
  double repetition_penalty = 1.0;  // prompt and output tokens
  double temperature = 1.0;         // below kGreedyTemperature: greedy
  double top_p = 1.0;
  int top_k = 0;  // 0 or -1: disabled
  double min_p = 0.0;
  std::optional<std::uint64_t> seed;
  std::vector<std::string> stop;
  std::vector<TokenId> stop_token_ids;
  bool ignore_eos = false;
  int max_tokens = 16;  // clamped by the engine to what max_model_len leaves
  int min_tokens = 0;
  std::optional<int> logprobs;  // top-k logprobs per generated token; -1: the whole vocabulary
  bool include_stop_str_in_output = false;
  bool skip_special_tokens = true;

  bool greedy() const;
  bool penalized() const;  // any of the repetition, frequency and presence penalties
  // Throws llmctl::Error with vLLM's message for the first invalid field, NaN and infinities included.
  // Ids beyond the vocabulary in stop_token_ids need the model: the engine checks those.
  void validate() const;
};

inline constexpr double kGreedyTemperature = 1e-5;  // vLLM's _SAMPLING_EPS

}  // namespace llmctl::engine
