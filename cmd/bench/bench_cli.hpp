#pragma once

#include "common/cli.hpp"
#include "common/engine_options.hpp"
#include "runtime/engine.hpp"

#include <limits>
#include <map>
#include <optional>
#include <string>
#include <vector>

namespace llmctl::cli {

struct BenchOptions {
  std::string model;
  bool latency = false;  // vllm bench latency instead of vllm bench throughput
  std::int64_t input_len = 0;
  std::int64_t output_len = 128;
  int num_prompts = 1000;
  int n = 1;
  std::string dataset_name = "random";
  double random_range_ratio = 0.0;
  std::uint64_t seed = 0;
  std::string output_json;
  int batch_size = 8;        // latency
  int num_iters_warmup = 10;  // latency
  int num_iters = 30;         // latency
  bool profile = false;  // print the GPU time of each kind of operation
  EngineOptions engine;
};

// `llmctl bench serve`: vLLM's online benchmark (vllm bench serve) against a running OpenAI-compatible
// server, with vLLM's flags, defaults and result keys.
struct ServeBenchOptions {
  std::string backend = "openai";  // openai or vllm: /v1/completions; openai-chat: /v1/chat/completions
  std::string base_url;            // else http://host:port
  std::string host = "127.0.0.1";
  int port = 8000;
  std::string endpoint = "/v1/completions";
  std::vector<std::string> headers;  // KEY=VALUE
  std::string api_key;               // else $OPENAI_API_KEY
  std::string model;                 // else the first of /v1/models
  std::string tokenizer;             // else the model's root folder or hub id
  std::string dataset_name = "random";
  int num_prompts = 1000;
  std::int64_t random_input_len = 1024;
  std::int64_t random_output_len = 128;
  double random_range_ratio = 0.0;
  std::int64_t random_prefix_len = 0;
  double request_rate = std::numeric_limits<double>::infinity();  // requests/s; infinity: all at once
  double burstiness = 1.0;
  std::optional<int> max_concurrency;
  std::uint64_t seed = 0;
  bool ignore_eos = false;  // forced on for the random dataset, as vLLM does
  int num_warmups = 0;
  std::string percentile_metrics = "ttft,tpot,itl";
  std::string metric_percentiles = "99";
  std::vector<std::string> goodput;  // KEY:MILLISECONDS
  bool save_result = false;
  bool save_detailed = false;
  std::string result_dir;
  std::string result_filename;
  std::string label;
  std::vector<std::string> metadata;  // KEY=VALUE
  std::optional<int> logprobs;
  std::map<std::string, double> sampling;  // temperature, top_p, ...: sent only when given
  std::optional<int> top_k;
  std::string extra_body;                  // JSON object merged into every request
};

class BenchCommand : public Command {
 public:
  BenchCommand();
  BenchOptions options;
  ServeBenchOptions serve_options;
  CLI::App* serve = nullptr;  // parsed() when `llmctl bench serve` was asked for
};

}  // namespace llmctl::cli
