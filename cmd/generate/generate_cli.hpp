#pragma once

#include "common/cli.hpp"
#include "common/engine_options.hpp"
#include "runtime/engine.hpp"
#include "runtime/sampling_params.hpp"

#include <optional>
#include <string>
#include <vector>

namespace llmctl::cli {

struct GenerateOptions {
  std::string model;
  std::vector<std::string> prompts;
  std::string prompts_file;
  std::vector<std::string> prompt_token_ids;  // each "1,2,3"
  bool chat = false;
  std::string chat_template;
  std::string output_format = "text";
  std::string generation_config = "auto";
  EngineOptions engine;
  engine::SamplingParams sampling;
  std::string stop_token_ids;  // "1,2"
};

class GenerateCommand : public Command {
 public:
  GenerateCommand();
  GenerateOptions options;

  // Sampling flags the user gave; generation_config.json fills the others (vLLM's --generation-config auto).
  bool given(const std::string& flag) const;
};

}  // namespace llmctl::cli
