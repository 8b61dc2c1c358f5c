#pragma once

#include "api/chat_response.hpp"
#include "api/server_metrics.hpp"
#include "api/serving_defaults.hpp"
#include "runtime/engine_client.hpp"
#include "tokenizer/chat_template.hpp"
#include "tokenizer/tokenizer.hpp"
#include "tokenizer/tokenizer_config.hpp"

#include <atomic>
#include <memory>
#include <optional>
#include <string>
#include <vector>

namespace llmctl::serve {

// What every route reads: fixed once the server starts, except `client`, which appears when the model
// has loaded (until then the routes answer 503).
struct ServerState {
  std::vector<std::string> served_model_names;  // the first is the name in responses and metrics
  std::string model_root;                       // the MODEL argument, as /v1/models reports it
  std::int64_t created = 0;                     // start time, Unix seconds
  std::int64_t max_model_len = 0;
  std::shared_ptr<const engine::Tokenizer> tokenizer;  // null: token ids only
  std::optional<engine::TokenizerConfig> tokenizer_config;
  std::optional<engine::ChatTemplate> chat_template;  // null: chat requests need one of their own
  api::ServingDefaults defaults;
  api::OutputParsers parsers;  // tool_call empty unless --enable-auto-tool-choice
  std::string api_key;         // empty: no authentication
  bool log_requests = true;
  std::unique_ptr<api::ServerMetrics> metrics;
  std::atomic<engine::EngineClient*> client = nullptr;

  bool serves(const std::string& model) const;
};

}  // namespace llmctl::serve
