#pragma once

#include "runtime/engine.hpp"
#include "support/test_files.hpp"

#include <doctest/doctest.h>

#include <map>
#include <string>
#include <vector>

namespace llmctl::test {

inline const std::filesystem::path kGenerationModels = kFixtures / "generation";
inline const std::vector<std::string> kGenerationModelNames = {"llama3", "qwen2-yarn", "qwen3", "mistral-window",
                                                               "llama-linear-bin"};

// Everything one choice of a request produced, put together from the engine's step outputs.
struct Choice {
  std::vector<engine::TokenId> tokens;
  std::vector<engine::SampledToken> logprobs;
  std::string text;
  std::optional<engine::FinishReason> finish_reason;
  std::variant<std::monostate, std::string, engine::TokenId> stop_reason;
};

inline engine::EngineConfig small_engine(const std::string& model) {
  engine::EngineConfig config;
  config.model = kGenerationModels / model;
  config.num_blocks = 64;
  return config;
}

// Steps `engine` until every request it holds has finished, checking the scheduler's and block manager's
// invariants after each step and that no block is held at the end. Choices are keyed "id/index".
inline std::map<std::string, Choice> run_to_completion(engine::Engine& engine) {
  std::map<std::string, Choice> choices;
  while (engine.has_unfinished()) {
    for (auto& output : engine.step())
      for (auto& update : output.updates) {
        auto& choice = choices[output.request_id + "/" + std::to_string(update.index)];
        choice.tokens.insert(choice.tokens.end(), update.token_ids.begin(), update.token_ids.end());
        choice.logprobs.insert(choice.logprobs.end(), update.logprobs.begin(), update.logprobs.end());
        choice.text += update.text;
        if (update.finish_reason) {
          REQUIRE_FALSE(choice.finish_reason);
          choice.finish_reason = update.finish_reason;
          choice.stop_reason = update.stop_reason;
        }
      }
    engine.scheduler().check_invariants();
  }
  CHECK(engine.block_manager().num_free_blocks() == engine.num_kv_blocks());
  return choices;
}

// Greedy, EOS ignored, top-`logprobs` logprobs (none with nullopt).
inline engine::SamplingParams greedy_params(int max_tokens, std::optional<int> logprobs = 5) {
  engine::SamplingParams params;
  params.temperature = 0.0;
  params.max_tokens = max_tokens;
  params.ignore_eos = true;
  params.logprobs = logprobs;
  return params;
}

}  // namespace llmctl::test
