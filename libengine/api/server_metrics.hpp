#pragma once

#include "api/prometheus.hpp"
#include "runtime/engine_stats.hpp"

#include <cstdint>
#include <mutex>
#include <string>
#include <utility>
#include <vector>

namespace llmctl::api {

// What the server saw of one finished request, for the request-level metrics.
struct RequestRecord {
  std::string finished_reason;  // "stop", "length", "abort" (vLLM's finished_reason label)
  std::int64_t prompt_tokens = 0;
  std::int64_t generation_tokens = 0;
  int n = 1;
  std::int64_t max_tokens = 0;
  double e2e_seconds = 0;     // arrival to last output
  double ttft_seconds = -1;   // arrival to first token; < 0 when none came
  std::vector<double> inter_token_seconds;  // gaps between outputs that carried tokens
};

// GET /metrics: Prometheus text exposition (version 0.0.4) with vLLM V1's metric names and labels
// (model_name, engine="0"), so that vLLM's Grafana dashboards and alerts work unchanged: gauges
// vllm:num_requests_running/waiting, vllm:kv_cache_usage_perc; counters vllm:prompt_tokens_total,
// vllm:generation_tokens_total, vllm:request_success_total{finished_reason}, vllm:num_preemptions_total,
// vllm:prefix_cache_queries_total/hits_total; histograms vllm:time_to_first_token_seconds,
// vllm:inter_token_latency_seconds, vllm:e2e_request_latency_seconds, vllm:request_prompt_tokens,
// vllm:request_generation_tokens, vllm:request_params_n, vllm:request_params_max_tokens, with vLLM's
// buckets. Thread-safe; record() is a few bucket searches under one mutex.
class ServerMetrics {
 public:
  ServerMetrics(std::string model_name, std::int64_t max_model_len);

  void record(const RequestRecord& request);
  std::string render(const engine::EngineStats& engine) const;

 private:
  std::string model_name_;
  mutable std::mutex mutex_;  // guards everything below
  // vllm:request_success_total by finished_reason: vLLM's reasons from the start (at 0), others as seen.
  std::vector<std::pair<std::string, std::int64_t>> successes_;
  prometheus::Histogram prompt_tokens_;
  prometheus::Histogram generation_tokens_;
  prometheus::Histogram n_;
  prometheus::Histogram max_tokens_;
  prometheus::Histogram time_to_first_token_;
  prometheus::Histogram inter_token_latency_;
  prometheus::Histogram e2e_latency_;
};

// vLLM's periodic stats line, from two snapshots `seconds` apart:
// "Engine 000: Avg prompt throughput: 1310.1 tokens/s, Avg generation throughput: 50.9 tokens/s,
// Running: 1 reqs, Waiting: 0 reqs, GPU KV cache usage: 0.6%, Prefix cache hit rate: 56.1%"
// with ", Preemptions: N" after Waiting when the interval had preemptions, as recent vLLM prints it.
// The hit rate is over all prefix-cache queries so far; vLLM's covers its latest 1000 requests, so
// the two agree until 1000 requests have been scheduled.
std::string stats_line(const engine::EngineStats& previous, const engine::EngineStats& now, double seconds);

// Whether the interval had neither prompt nor generation throughput. vLLM logs the stats line at DEBUG
// instead of INFO when this interval and the one before it were both idle (no noise from an idle server).
bool idle_interval(const engine::EngineStats& previous, const engine::EngineStats& now, double seconds);

}  // namespace llmctl::api
