#pragma once

#include "api/server_metrics.hpp"
#include "runtime/request_output.hpp"

#include <chrono>
#include <map>
#include <string>
#include <vector>

namespace llmctl::serve {

// Times the engine requests of one HTTP call from arrival to their last output, and records each in the
// server's metrics when it finishes: time to first token, gaps between outputs, end-to-end latency.
class RequestTiming {
 public:
  RequestTiming(api::ServerMetrics& metrics, const std::vector<std::string>& request_ids, int n, std::int64_t max_tokens);

  void observe(const engine::RequestOutput& output);

 private:
  using Clock = std::chrono::steady_clock;
  struct Entry {
    api::RequestRecord record;
    Clock::time_point last_token;
    bool done = false;
  };

  api::ServerMetrics& metrics_;
  Clock::time_point arrival_;
  std::map<std::string, Entry> requests_;
};

}  // namespace llmctl::serve
