#include "api/server_metrics.hpp"

#include <fmt/format.h>

#include <algorithm>

// Names, HELP texts, label names, buckets and family order follow vLLM's PrometheusStatLogger
// (vllm/v1/metrics/loggers.py); the stats line follows its LoggingStatLogger.
namespace llmctl::api {

namespace {

// The values of vLLM's FinishReason; it exports a request_success series for each from the start.
constexpr const char* kFinishReasons[] = {"stop", "length", "abort", "error", "repetition"};

// vLLM's build_1_2_5_buckets: 1, 2, 5, 10, 20, 50, ... up to and including max_value.
std::vector<double> one_two_five_buckets(std::int64_t max_value) {
  std::vector<double> buckets;
  for (double power = 1;; power *= 10) {
    for (const double mantissa : {1.0, 2.0, 5.0}) {
      if (mantissa * power > static_cast<double>(max_value)) return buckets;
      buckets.push_back(mantissa * power);
    }
  }
}

std::vector<double> time_to_first_token_buckets() {
  return {0.001, 0.005, 0.01, 0.02, 0.04, 0.06, 0.08, 0.1, 0.25, 0.5, 0.75,
          1.0,   2.5,   5.0,  7.5,  10.0, 20.0, 40.0, 80.0, 160.0, 640.0, 2560.0};
}

std::vector<double> inter_token_latency_buckets() {
  return {0.01, 0.025, 0.05, 0.075, 0.1, 0.15, 0.2, 0.3, 0.4, 0.5,
          0.75, 1.0,   2.5,  5.0,   7.5, 10.0, 20.0, 40.0, 80.0};
}

std::vector<double> request_latency_buckets() {
  return {0.3,  0.5,  0.8,  1.0,  1.5,  2.0,   2.5,   5.0,   10.0,  15.0,  20.0,
          30.0, 40.0, 50.0, 60.0, 120.0, 240.0, 480.0, 960.0, 1920.0, 7680.0};
}

double per_second(std::int64_t count, double seconds) {
  return seconds > 0 ? static_cast<double>(count) / seconds : 0.0;
}

}  // namespace

ServerMetrics::ServerMetrics(std::string model_name, std::int64_t max_model_len)
    : model_name_(std::move(model_name)),
      prompt_tokens_(one_two_five_buckets(max_model_len)),
      generation_tokens_(one_two_five_buckets(max_model_len)),
      n_({1, 2, 5, 10, 20}),
      max_tokens_(one_two_five_buckets(max_model_len)),
      time_to_first_token_(time_to_first_token_buckets()),
      inter_token_latency_(inter_token_latency_buckets()),
      e2e_latency_(request_latency_buckets()) {
  for (const char* reason : kFinishReasons) successes_.emplace_back(reason, 0);
}

void ServerMetrics::record(const RequestRecord& request) {
  const std::lock_guard lock(mutex_);
  auto success = std::find_if(successes_.begin(), successes_.end(),
                              [&](const auto& entry) { return entry.first == request.finished_reason; });
  if (success == successes_.end()) success = successes_.emplace(successes_.end(), request.finished_reason, 0);
  ++success->second;

  e2e_latency_.observe(request.e2e_seconds);
  prompt_tokens_.observe(static_cast<double>(request.prompt_tokens));
  generation_tokens_.observe(static_cast<double>(request.generation_tokens));
  n_.observe(static_cast<double>(request.n));
  if (request.max_tokens > 0) max_tokens_.observe(static_cast<double>(request.max_tokens));  // as vLLM: when set
  if (request.ttft_seconds >= 0) time_to_first_token_.observe(request.ttft_seconds);
  for (const double gap : request.inter_token_seconds) inter_token_latency_.observe(gap);
}

std::string ServerMetrics::render(const engine::EngineStats& engine) const {
  const prometheus::Labels labels = {{"model_name", model_name_}, {"engine", "0"}};
  prometheus::TextWriter out;
  const auto gauge = [&](const char* name, const char* help, double value) {
    out.family(name, "gauge", help);
    out.sample(name, labels, value);
  };
  const auto counter = [&](const char* name, const char* help, std::int64_t value) {
    out.family(name, "counter", help);
    out.sample(name, labels, static_cast<double>(value));
  };
  const auto histogram = [&](const char* name, const char* help, const prometheus::Histogram& values) {
    out.family(name, "histogram", help);
    out.histogram(name, labels, values);
  };

  gauge("vllm:num_requests_running", "Number of requests in model execution batches.",
        static_cast<double>(engine.num_running));
  gauge("vllm:num_requests_waiting", "Number of requests waiting to be processed.",
        static_cast<double>(engine.num_waiting));
  gauge("vllm:kv_cache_usage_perc", "KV-cache usage. 1 means 100 percent usage.", engine.kv_cache_usage);
  counter("vllm:prefix_cache_queries_total", "Prefix cache queries, in terms of number of queried tokens.",
          engine.prefix_cache_queries);
  counter("vllm:prefix_cache_hits_total", "Prefix cache hits, in terms of number of cached tokens.",
          engine.prefix_cache_hits);
  counter("vllm:num_preemptions_total", "Cumulative number of preemption from the engine.", engine.num_preemptions);
  counter("vllm:prompt_tokens_total", "Number of prefill tokens processed.", engine.prompt_tokens);
  counter("vllm:generation_tokens_total", "Number of generation tokens processed.", engine.generation_tokens);

  const std::lock_guard lock(mutex_);
  out.family("vllm:request_success_total", "counter", "Count of successfully processed requests.");
  for (const auto& [reason, count] : successes_) {
    prometheus::Labels reason_labels = labels;
    reason_labels.emplace_back("finished_reason", reason);
    out.sample("vllm:request_success_total", std::move(reason_labels), static_cast<double>(count));
  }
  histogram("vllm:request_prompt_tokens", "Number of prefill tokens processed.", prompt_tokens_);
  histogram("vllm:request_generation_tokens", "Number of generation tokens processed.", generation_tokens_);
  histogram("vllm:request_params_n", "Histogram of the n request parameter.", n_);
  histogram("vllm:request_params_max_tokens", "Histogram of the max_tokens request parameter.", max_tokens_);
  histogram("vllm:time_to_first_token_seconds", "Histogram of time to first token in seconds.",
            time_to_first_token_);
  histogram("vllm:inter_token_latency_seconds", "Histogram of inter-token latency in seconds.",
            inter_token_latency_);
  histogram("vllm:e2e_request_latency_seconds", "Histogram of e2e request latency in seconds.", e2e_latency_);
  return out.text();
}

std::string stats_line(const engine::EngineStats& previous, const engine::EngineStats& now, double seconds) {
  std::string line = fmt::format(
      "Engine 000: Avg prompt throughput: {:.1f} tokens/s, Avg generation throughput: {:.1f} tokens/s, "
      "Running: {} reqs, Waiting: {} reqs, ",
      per_second(now.prompt_tokens - previous.prompt_tokens, seconds),
      per_second(now.generation_tokens - previous.generation_tokens, seconds), now.num_running, now.num_waiting);
  if (const auto preemptions = now.num_preemptions - previous.num_preemptions; preemptions > 0) {
    line += fmt::format("Preemptions: {}, ", preemptions);
  }
  const double hit_rate = now.prefix_cache_queries > 0 ? static_cast<double>(now.prefix_cache_hits) /
                                                             static_cast<double>(now.prefix_cache_queries)
                                                       : 0.0;
  line += fmt::format("GPU KV cache usage: {:.1f}%, Prefix cache hit rate: {:.1f}%", now.kv_cache_usage * 100,
                      hit_rate * 100);
  return line;
}

bool idle_interval(const engine::EngineStats& previous, const engine::EngineStats& now, double seconds) {
  return per_second(now.prompt_tokens - previous.prompt_tokens, seconds) == 0 &&
         per_second(now.generation_tokens - previous.generation_tokens, seconds) == 0;
}

}  // namespace llmctl::api
