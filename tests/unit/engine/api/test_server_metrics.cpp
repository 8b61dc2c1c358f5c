#include "api/server_metrics.hpp"

#include "api/prometheus.hpp"

#include <doctest/doctest.h>

#include <cmath>
#include <sstream>
#include <string>
#include <thread>
#include <vector>

using namespace llmctl::api;
using llmctl::engine::EngineStats;

namespace {

std::vector<std::string> lines_of(const std::string& text) {
  std::vector<std::string> lines;
  std::istringstream stream(text);
  for (std::string line; std::getline(stream, line);) lines.push_back(line);
  return lines;
}

bool has_line(const std::string& text, const std::string& line) {
  for (const auto& candidate : lines_of(text)) {
    if (candidate == line) return true;
  }
  return false;
}

// The lines of `text` that start with `prefix`.
std::vector<std::string> lines_starting(const std::string& text, const std::string& prefix) {
  std::vector<std::string> found;
  for (const auto& line : lines_of(text)) {
    if (line.rfind(prefix, 0) == 0) found.push_back(line);
  }
  return found;
}

RequestRecord record(std::string reason, std::int64_t prompt, std::int64_t generated, double e2e, double ttft,
                     std::vector<double> gaps = {}) {
  RequestRecord request;
  request.finished_reason = std::move(reason);
  request.prompt_tokens = prompt;
  request.generation_tokens = generated;
  request.max_tokens = 16;
  request.e2e_seconds = e2e;
  request.ttft_seconds = ttft;
  request.inter_token_seconds = std::move(gaps);
  return request;
}

}  // namespace

TEST_CASE("prometheus: values are written as prometheus_client writes them") {
  using prometheus::format_value;
  CHECK(format_value(0) == "0.0");
  CHECK(format_value(1) == "1.0");
  CHECK(format_value(-3) == "-3.0");
  CHECK(format_value(0.001) == "0.001");
  CHECK(format_value(0.0001) == "0.0001");
  CHECK(format_value(0.00001) == "1e-05");
  CHECK(format_value(1.5e-7) == "1.5e-07");
  CHECK(format_value(0.1 + 0.2) == "0.30000000000000004");
  CHECK(format_value(2560) == "2560.0");
  CHECK(format_value(100000) == "100000.0");
  CHECK(format_value(999999.5) == "999999.5");
  CHECK(format_value(1000000) == "1e+06");  // Go's exponent form from a million up
  CHECK(format_value(2000000) == "2e+06");
  CHECK(format_value(1234567) == "1.234567e+06");
  CHECK(format_value(1000000.5) == "1.0000005e+06");
  CHECK(format_value(-1234567) == "-1234567.0");  // prometheus_client only rewrites positive values
  CHECK(format_value(1e16) == "1e+16");
  CHECK(format_value(HUGE_VAL) == "+Inf");
  CHECK(format_value(-HUGE_VAL) == "-Inf");
  CHECK(format_value(std::nan("")) == "NaN");
}

TEST_CASE("prometheus: label values escape backslash, quote and newline only") {
  CHECK(prometheus::escape_label_value("plain/model-7B") == "plain/model-7B");
  CHECK(prometheus::escape_label_value("a\\b\"c\nd\te") == "a\\\\b\\\"c\\nd\te");
}

TEST_CASE("prometheus: a histogram counts v into the first bucket with v <= le, cumulatively") {
  prometheus::Histogram histogram({1, 2, 5});
  for (const double value : {0.5, 1.0, 1.5, 5.0, 6.0, 100.0}) histogram.observe(value);
  histogram.observe(std::nan(""));  // ignored
  CHECK(histogram.cumulative_counts() == std::vector<std::int64_t>{2, 3, 4, 6});
  CHECK(histogram.sum() == 114.0);

  prometheus::TextWriter out;
  out.family("x_seconds", "histogram", "Some\\help\nhere.");
  out.histogram("x_seconds", {{"model_name", "m"}, {"engine", "0"}}, histogram);
  CHECK(out.text() ==
        "# HELP x_seconds Some\\\\help\\nhere.\n"
        "# TYPE x_seconds histogram\n"
        "x_seconds_bucket{engine=\"0\",le=\"1.0\",model_name=\"m\"} 2.0\n"
        "x_seconds_bucket{engine=\"0\",le=\"2.0\",model_name=\"m\"} 3.0\n"
        "x_seconds_bucket{engine=\"0\",le=\"5.0\",model_name=\"m\"} 4.0\n"
        "x_seconds_bucket{engine=\"0\",le=\"+Inf\",model_name=\"m\"} 6.0\n"
        "x_seconds_count{engine=\"0\",model_name=\"m\"} 6.0\n"
        "x_seconds_sum{engine=\"0\",model_name=\"m\"} 114.0\n");
}

TEST_CASE("prometheus: a sample without labels has no braces") {
  prometheus::TextWriter out;
  out.sample("up", {}, 1);
  CHECK(out.text() == "up 1.0\n");
}

TEST_CASE("metrics: a fresh server exports every family at zero, in vLLM's order") {
  const ServerMetrics metrics("Qwen/Qwen2.5-0.5B", 100);
  const std::string text = metrics.render(EngineStats{});

  CHECK(lines_starting(text, "# TYPE ") == std::vector<std::string>{
                                               "# TYPE vllm:num_requests_running gauge",
                                               "# TYPE vllm:num_requests_waiting gauge",
                                               "# TYPE vllm:kv_cache_usage_perc gauge",
                                               "# TYPE vllm:prefix_cache_queries_total counter",
                                               "# TYPE vllm:prefix_cache_hits_total counter",
                                               "# TYPE vllm:num_preemptions_total counter",
                                               "# TYPE vllm:prompt_tokens_total counter",
                                               "# TYPE vllm:generation_tokens_total counter",
                                               "# TYPE vllm:request_success_total counter",
                                               "# TYPE vllm:request_prompt_tokens histogram",
                                               "# TYPE vllm:request_generation_tokens histogram",
                                               "# TYPE vllm:request_params_n histogram",
                                               "# TYPE vllm:request_params_max_tokens histogram",
                                               "# TYPE vllm:time_to_first_token_seconds histogram",
                                               "# TYPE vllm:inter_token_latency_seconds histogram",
                                               "# TYPE vllm:e2e_request_latency_seconds histogram",
                                           });
  CHECK(has_line(text, "# HELP vllm:num_requests_running Number of requests in model execution batches."));
  CHECK(has_line(text, "# HELP vllm:kv_cache_usage_perc KV-cache usage. 1 means 100 percent usage."));
  CHECK(has_line(text, "# HELP vllm:request_success_total Count of successfully processed requests."));
  CHECK(has_line(text, "# HELP vllm:inter_token_latency_seconds Histogram of inter-token latency in seconds."));
  CHECK(has_line(text, "vllm:num_requests_running{engine=\"0\",model_name=\"Qwen/Qwen2.5-0.5B\"} 0.0"));
  CHECK(text.find("gpu_cache_usage_perc") == std::string::npos);  // vLLM dropped the deprecated names

  // vLLM exports a series for each finish reason from the start.
  CHECK(lines_starting(text, "vllm:request_success_total{") ==
        std::vector<std::string>{
            "vllm:request_success_total{engine=\"0\",finished_reason=\"stop\",model_name=\"Qwen/Qwen2.5-0.5B\"} 0.0",
            "vllm:request_success_total{engine=\"0\",finished_reason=\"length\",model_name=\"Qwen/Qwen2.5-0.5B\"} 0.0",
            "vllm:request_success_total{engine=\"0\",finished_reason=\"abort\",model_name=\"Qwen/Qwen2.5-0.5B\"} 0.0",
            "vllm:request_success_total{engine=\"0\",finished_reason=\"error\",model_name=\"Qwen/Qwen2.5-0.5B\"} 0.0",
            "vllm:request_success_total{engine=\"0\",finished_reason=\"repetition\",model_name=\"Qwen/Qwen2.5-0.5B\"} "
            "0.0",
        });
}

TEST_CASE("metrics: bucket boundaries are vLLM's") {
  const ServerMetrics metrics("m", 4096);
  const std::string text = metrics.render(EngineStats{});
  const auto le_values = [&](const std::string& name) {
    std::string joined;
    for (const auto& line : lines_starting(text, name + "_bucket{")) {
      const auto start = line.find("le=\"") + 4;
      joined += line.substr(start, line.find('"', start) - start) + " ";
    }
    return joined;
  };
  // build_1_2_5_buckets(max_model_len)
  CHECK(le_values("vllm:request_prompt_tokens") ==
        "1.0 2.0 5.0 10.0 20.0 50.0 100.0 200.0 500.0 1000.0 2000.0 +Inf ");
  CHECK(le_values("vllm:request_generation_tokens") == le_values("vllm:request_prompt_tokens"));
  CHECK(le_values("vllm:request_params_max_tokens") == le_values("vllm:request_prompt_tokens"));
  CHECK(le_values("vllm:request_params_n") == "1.0 2.0 5.0 10.0 20.0 +Inf ");
  CHECK(le_values("vllm:time_to_first_token_seconds") ==
        "0.001 0.005 0.01 0.02 0.04 0.06 0.08 0.1 0.25 0.5 0.75 1.0 2.5 5.0 7.5 10.0 20.0 40.0 80.0 160.0 640.0 "
        "2560.0 +Inf ");
  CHECK(le_values("vllm:inter_token_latency_seconds") ==
        "0.01 0.025 0.05 0.075 0.1 0.15 0.2 0.3 0.4 0.5 0.75 1.0 2.5 5.0 7.5 10.0 20.0 40.0 80.0 +Inf ");
  CHECK(le_values("vllm:e2e_request_latency_seconds") ==
        "0.3 0.5 0.8 1.0 1.5 2.0 2.5 5.0 10.0 15.0 20.0 30.0 40.0 50.0 60.0 120.0 240.0 480.0 960.0 1920.0 7680.0 "
        "+Inf ");

  // A bound equal to max_model_len is included; a million is written the Go way.
  const std::string long_context = ServerMetrics("m", 1000000).render(EngineStats{});
  CHECK(has_line(long_context, "vllm:request_prompt_tokens_bucket{engine=\"0\",le=\"500000.0\",model_name=\"m\"} 0.0"));
  CHECK(has_line(long_context, "vllm:request_prompt_tokens_bucket{engine=\"0\",le=\"1e+06\",model_name=\"m\"} 0.0"));
  CHECK(lines_starting(long_context, "vllm:request_prompt_tokens_bucket{").size() == 20);
}

TEST_CASE("metrics: the engine snapshot gives the gauges and counters") {
  const ServerMetrics metrics("m", 100);
  EngineStats engine;
  engine.num_running = 3;
  engine.num_waiting = 7;
  engine.kv_cache_usage = 0.25;
  engine.num_preemptions = 2;
  engine.prefix_cache_queries = 1200;
  engine.prefix_cache_hits = 640;
  engine.prompt_tokens = 5000;
  engine.generation_tokens = 12345;
  const std::string text = metrics.render(engine);
  CHECK(has_line(text, "vllm:num_requests_running{engine=\"0\",model_name=\"m\"} 3.0"));
  CHECK(has_line(text, "vllm:num_requests_waiting{engine=\"0\",model_name=\"m\"} 7.0"));
  CHECK(has_line(text, "vllm:kv_cache_usage_perc{engine=\"0\",model_name=\"m\"} 0.25"));
  CHECK(has_line(text, "vllm:num_preemptions_total{engine=\"0\",model_name=\"m\"} 2.0"));
  CHECK(has_line(text, "vllm:prefix_cache_queries_total{engine=\"0\",model_name=\"m\"} 1200.0"));
  CHECK(has_line(text, "vllm:prefix_cache_hits_total{engine=\"0\",model_name=\"m\"} 640.0"));
  CHECK(has_line(text, "vllm:prompt_tokens_total{engine=\"0\",model_name=\"m\"} 5000.0"));
  CHECK(has_line(text, "vllm:generation_tokens_total{engine=\"0\",model_name=\"m\"} 12345.0"));
}

TEST_CASE("metrics: recorded requests fill the request-level series") {
  ServerMetrics metrics("m", 100);
  metrics.record(record("stop", 7, 3, 0.4, 0.02, {0.01, 0.03}));
  metrics.record(record("length", 60, 16, 2.0, 0.3, {0.05, 0.05, 0.2}));
  RequestRecord aborted = record("abort", 1, 0, 12.5, -1);  // no token came: no TTFT
  aborted.n = 3;
  aborted.max_tokens = 0;  // unset: vLLM observes max_tokens only when set
  metrics.record(aborted);
  metrics.record(record("stop", 150, 1, 9000.0, 3000.0));  // past every bound: only +Inf

  const std::string text = metrics.render(EngineStats{});
  const auto series = [&](const std::string& name) { return lines_starting(text, name + "{"); };

  CHECK(series("vllm:request_success_total") ==
        std::vector<std::string>{
            "vllm:request_success_total{engine=\"0\",finished_reason=\"stop\",model_name=\"m\"} 2.0",
            "vllm:request_success_total{engine=\"0\",finished_reason=\"length\",model_name=\"m\"} 1.0",
            "vllm:request_success_total{engine=\"0\",finished_reason=\"abort\",model_name=\"m\"} 1.0",
            "vllm:request_success_total{engine=\"0\",finished_reason=\"error\",model_name=\"m\"} 0.0",
            "vllm:request_success_total{engine=\"0\",finished_reason=\"repetition\",model_name=\"m\"} 0.0",
        });

  CHECK(series("vllm:request_prompt_tokens_bucket") ==
        std::vector<std::string>{
            "vllm:request_prompt_tokens_bucket{engine=\"0\",le=\"1.0\",model_name=\"m\"} 1.0",
            "vllm:request_prompt_tokens_bucket{engine=\"0\",le=\"2.0\",model_name=\"m\"} 1.0",
            "vllm:request_prompt_tokens_bucket{engine=\"0\",le=\"5.0\",model_name=\"m\"} 1.0",
            "vllm:request_prompt_tokens_bucket{engine=\"0\",le=\"10.0\",model_name=\"m\"} 2.0",
            "vllm:request_prompt_tokens_bucket{engine=\"0\",le=\"20.0\",model_name=\"m\"} 2.0",
            "vllm:request_prompt_tokens_bucket{engine=\"0\",le=\"50.0\",model_name=\"m\"} 2.0",
            "vllm:request_prompt_tokens_bucket{engine=\"0\",le=\"100.0\",model_name=\"m\"} 3.0",
            "vllm:request_prompt_tokens_bucket{engine=\"0\",le=\"+Inf\",model_name=\"m\"} 4.0",
        });
  CHECK(has_line(text, "vllm:request_prompt_tokens_count{engine=\"0\",model_name=\"m\"} 4.0"));
  CHECK(has_line(text, "vllm:request_prompt_tokens_sum{engine=\"0\",model_name=\"m\"} 218.0"));
  CHECK(has_line(text, "vllm:request_generation_tokens_bucket{engine=\"0\",le=\"1.0\",model_name=\"m\"} 2.0"));
  CHECK(has_line(text, "vllm:request_generation_tokens_bucket{engine=\"0\",le=\"5.0\",model_name=\"m\"} 3.0"));
  CHECK(has_line(text, "vllm:request_generation_tokens_bucket{engine=\"0\",le=\"20.0\",model_name=\"m\"} 4.0"));
  CHECK(has_line(text, "vllm:request_generation_tokens_sum{engine=\"0\",model_name=\"m\"} 20.0"));

  CHECK(has_line(text, "vllm:request_params_n_bucket{engine=\"0\",le=\"1.0\",model_name=\"m\"} 3.0"));
  CHECK(has_line(text, "vllm:request_params_n_bucket{engine=\"0\",le=\"2.0\",model_name=\"m\"} 3.0"));
  CHECK(has_line(text, "vllm:request_params_n_bucket{engine=\"0\",le=\"5.0\",model_name=\"m\"} 4.0"));
  CHECK(has_line(text, "vllm:request_params_n_sum{engine=\"0\",model_name=\"m\"} 6.0"));
  CHECK(has_line(text, "vllm:request_params_max_tokens_count{engine=\"0\",model_name=\"m\"} 3.0"));
  CHECK(has_line(text, "vllm:request_params_max_tokens_sum{engine=\"0\",model_name=\"m\"} 48.0"));
  CHECK(has_line(text, "vllm:request_params_max_tokens_bucket{engine=\"0\",le=\"10.0\",model_name=\"m\"} 0.0"));
  CHECK(has_line(text, "vllm:request_params_max_tokens_bucket{engine=\"0\",le=\"20.0\",model_name=\"m\"} 3.0"));

  CHECK(has_line(text, "vllm:time_to_first_token_seconds_bucket{engine=\"0\",le=\"0.02\",model_name=\"m\"} 1.0"));
  CHECK(has_line(text, "vllm:time_to_first_token_seconds_bucket{engine=\"0\",le=\"0.25\",model_name=\"m\"} 1.0"));
  CHECK(has_line(text, "vllm:time_to_first_token_seconds_bucket{engine=\"0\",le=\"0.5\",model_name=\"m\"} 2.0"));
  CHECK(has_line(text, "vllm:time_to_first_token_seconds_bucket{engine=\"0\",le=\"2560.0\",model_name=\"m\"} 2.0"));
  CHECK(has_line(text, "vllm:time_to_first_token_seconds_bucket{engine=\"0\",le=\"+Inf\",model_name=\"m\"} 3.0"));
  CHECK(has_line(text, "vllm:time_to_first_token_seconds_count{engine=\"0\",model_name=\"m\"} 3.0"));
  CHECK(has_line(text, "vllm:time_to_first_token_seconds_sum{engine=\"0\",model_name=\"m\"} 3000.32"));

  CHECK(has_line(text, "vllm:inter_token_latency_seconds_bucket{engine=\"0\",le=\"0.01\",model_name=\"m\"} 1.0"));
  CHECK(has_line(text, "vllm:inter_token_latency_seconds_bucket{engine=\"0\",le=\"0.05\",model_name=\"m\"} 4.0"));
  CHECK(has_line(text, "vllm:inter_token_latency_seconds_bucket{engine=\"0\",le=\"0.2\",model_name=\"m\"} 5.0"));
  CHECK(has_line(text, "vllm:inter_token_latency_seconds_count{engine=\"0\",model_name=\"m\"} 5.0"));
  CHECK(has_line(text, "vllm:inter_token_latency_seconds_sum{engine=\"0\",model_name=\"m\"} 0.34"));

  CHECK(has_line(text, "vllm:e2e_request_latency_seconds_bucket{engine=\"0\",le=\"0.3\",model_name=\"m\"} 0.0"));
  CHECK(has_line(text, "vllm:e2e_request_latency_seconds_bucket{engine=\"0\",le=\"0.5\",model_name=\"m\"} 1.0"));
  CHECK(has_line(text, "vllm:e2e_request_latency_seconds_bucket{engine=\"0\",le=\"2.0\",model_name=\"m\"} 2.0"));
  CHECK(has_line(text, "vllm:e2e_request_latency_seconds_bucket{engine=\"0\",le=\"15.0\",model_name=\"m\"} 3.0"));
  CHECK(has_line(text, "vllm:e2e_request_latency_seconds_bucket{engine=\"0\",le=\"7680.0\",model_name=\"m\"} 3.0"));
  CHECK(has_line(text, "vllm:e2e_request_latency_seconds_bucket{engine=\"0\",le=\"+Inf\",model_name=\"m\"} 4.0"));
  CHECK(has_line(text, "vllm:e2e_request_latency_seconds_sum{engine=\"0\",model_name=\"m\"} 9014.9"));
}

TEST_CASE("metrics: a finish reason vLLM does not know gets its own series after vLLM's") {
  ServerMetrics metrics("m", 100);
  metrics.record(record("tool_calls", 1, 1, 0.1, 0.1));
  metrics.record(record("tool_calls", 1, 1, 0.1, 0.1));
  const auto lines = lines_starting(metrics.render(EngineStats{}), "vllm:request_success_total{");
  REQUIRE(lines.size() == 6);
  CHECK(lines.back() == "vllm:request_success_total{engine=\"0\",finished_reason=\"tool_calls\",model_name=\"m\"} 2.0");
}

TEST_CASE("metrics: the model name is escaped in every label") {
  const ServerMetrics metrics("my \"best\"\\model\nv2", 10);
  const std::string text = metrics.render(EngineStats{});
  CHECK(has_line(text, "vllm:num_requests_waiting{engine=\"0\",model_name=\"my \\\"best\\\"\\\\model\\nv2\"} 0.0"));
  CHECK(has_line(text,
                 "vllm:request_params_n_bucket{engine=\"0\",le=\"+Inf\",model_name=\"my \\\"best\\\"\\\\model\\nv2\"} 0.0"));
  for (const auto& line : lines_of(text)) {
    const bool comment = line.rfind("# HELP vllm:", 0) == 0 || line.rfind("# TYPE vllm:", 0) == 0;
    CHECK_MESSAGE((comment || line.rfind("vllm:", 0) == 0), line);  // no raw newline split a line
  }
}

TEST_CASE("metrics: records from many threads all count") {
  ServerMetrics metrics("m", 2048);
  constexpr int kThreads = 8;
  constexpr int kPerThread = 500;
  std::vector<std::thread> threads;
  for (int t = 0; t < kThreads; ++t) {
    threads.emplace_back([&metrics, t] {
      for (int i = 0; i < kPerThread; ++i) {
        metrics.record(record(t % 2 == 0 ? "stop" : "length", 10, 4, 1.0, 0.1, {0.02, 0.02, 0.02}));
        if (i % 100 == 0) (void)metrics.render(EngineStats{});
      }
    });
  }
  for (auto& thread : threads) thread.join();
  const std::string text = metrics.render(EngineStats{});
  CHECK(has_line(text, "vllm:request_success_total{engine=\"0\",finished_reason=\"stop\",model_name=\"m\"} 2000.0"));
  CHECK(has_line(text, "vllm:request_success_total{engine=\"0\",finished_reason=\"length\",model_name=\"m\"} 2000.0"));
  CHECK(has_line(text, "vllm:e2e_request_latency_seconds_count{engine=\"0\",model_name=\"m\"} 4000.0"));
  CHECK(has_line(text, "vllm:request_prompt_tokens_sum{engine=\"0\",model_name=\"m\"} 40000.0"));
  CHECK(has_line(text, "vllm:inter_token_latency_seconds_count{engine=\"0\",model_name=\"m\"} 12000.0"));
}

TEST_CASE("stats line: vLLM's format from two snapshots") {
  EngineStats previous;
  previous.prompt_tokens = 1000;
  previous.generation_tokens = 200;
  previous.num_preemptions = 4;
  EngineStats now = previous;
  now.prompt_tokens = 1000 + 13101;
  now.generation_tokens = 200 + 509;
  now.num_running = 1;
  now.num_waiting = 0;
  now.kv_cache_usage = 0.006;
  now.prefix_cache_queries = 1000;
  now.prefix_cache_hits = 561;
  CHECK(stats_line(previous, now, 10.0) ==
        "Engine 000: Avg prompt throughput: 1310.1 tokens/s, Avg generation throughput: 50.9 tokens/s, "
        "Running: 1 reqs, Waiting: 0 reqs, GPU KV cache usage: 0.6%, Prefix cache hit rate: 56.1%");

  // Preemptions in the interval appear after Waiting, as recent vLLM prints them.
  now.num_preemptions = 7;
  now.num_waiting = 12;
  CHECK(stats_line(previous, now, 5.0) ==
        "Engine 000: Avg prompt throughput: 2620.2 tokens/s, Avg generation throughput: 101.8 tokens/s, "
        "Running: 1 reqs, Waiting: 12 reqs, Preemptions: 3, GPU KV cache usage: 0.6%, Prefix cache hit rate: 56.1%");
}

TEST_CASE("stats line: no time, no queries and a full cache") {
  EngineStats now;
  now.prompt_tokens = 50;
  now.num_running = 256;
  now.kv_cache_usage = 1.0;
  CHECK(stats_line(EngineStats{}, now, 0.0) ==
        "Engine 000: Avg prompt throughput: 0.0 tokens/s, Avg generation throughput: 0.0 tokens/s, "
        "Running: 256 reqs, Waiting: 0 reqs, GPU KV cache usage: 100.0%, Prefix cache hit rate: 0.0%");
}

TEST_CASE("stats line: an interval is idle when no token was computed") {
  EngineStats previous;
  previous.prompt_tokens = 10;
  previous.generation_tokens = 5;
  EngineStats now = previous;
  now.num_running = 2;  // requests may sit there without progress
  CHECK(idle_interval(previous, now, 10.0));
  now.generation_tokens = 6;
  CHECK_FALSE(idle_interval(previous, now, 10.0));
  CHECK(idle_interval(previous, now, 0.0));  // vLLM counts no throughput without elapsed time
  now = previous;
  now.prompt_tokens = 11;
  CHECK_FALSE(idle_interval(previous, now, 10.0));
}
