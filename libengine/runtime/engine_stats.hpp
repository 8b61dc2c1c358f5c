#pragma once

#include <cstdint>

namespace llmctl::engine {

// The engine's state and running totals after its latest step, for the server's /metrics and stats
// line (EngineClient::stats()). Counters only grow.
struct EngineStats {
  std::int64_t num_running = 0;  // requests with at least one sequence scheduled or running
  std::int64_t num_waiting = 0;  // requests waiting for their first step (or preempted)
  double kv_cache_usage = 0.0;   // 0 to 1: blocks held by sequences over all blocks
  std::int64_t num_preemptions = 0;
  std::int64_t prefix_cache_queries = 0;  // in tokens, as vLLM counts them
  std::int64_t prefix_cache_hits = 0;     // in tokens
  std::int64_t prompt_tokens = 0;       // prompt tokens computed (prefix-cache hits excluded)
  std::int64_t generation_tokens = 0;   // tokens generated
  std::int64_t num_steps = 0;
};

}  // namespace llmctl::engine
