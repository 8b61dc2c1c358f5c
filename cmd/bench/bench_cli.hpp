#pragma once

#include "common/cli.hpp"
#include "common/engine_options.hpp"
#include "runtime/engine.hpp"

#include <string>

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
  std::string load_format = "auto";
  std::string output_json;
  int batch_size = 8;        // latency
  int num_iters_warmup = 10;  // latency
  int num_iters = 30;         // latency
  bool profile = false;  // print the GPU time of each kind of operation
  EngineOptions engine;
};

class BenchCommand : public Command {
 public:
  BenchCommand();
  BenchOptions options;
};

}  // namespace llmctl::cli
