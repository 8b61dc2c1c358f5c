#pragma once

#include "common/cli.hpp"
#include "common/engine_options.hpp"

#include <string>
#include <vector>

namespace llmctl::cli {

struct ServeOptions {
  std::string model;  // positional MODEL or --model
  std::vector<std::string> served_model_names;
  std::string host = "127.0.0.1";
  int port = 8000;
  std::string api_key;  // else $LLMCTL_API_KEY, else $VLLM_API_KEY
  std::string chat_template;
  std::string generation_config = "auto";
  int max_logprobs = 20;
  std::string reasoning_parser;
  bool enable_auto_tool_choice = false;
  std::string tool_call_parser;
  bool disable_log_requests = false;
  bool disable_log_stats = false;
  EngineOptions engine;
};

class ServeCommand : public Command {
 public:
  ServeCommand();
  ServeOptions options;
};

}  // namespace llmctl::cli
