#include "common/cli.hpp"

#include "bench/bench_cli.hpp"
#include "common/error.hpp"
#include "generate/generate_cli.hpp"
#include "mem-estimate/mem_estimate_cli.hpp"
#include "serve/serve_cli.hpp"

#include <doctest/doctest.h>

using llmctl::cli::parse_token_count;

TEST_CASE("token counts take vLLM's suffixes") {
  CHECK(parse_token_count("4096") == 4096);
  CHECK(parse_token_count("32k") == 32000);
  CHECK(parse_token_count("32K") == 32768);
  CHECK(parse_token_count("25.6k") == 25600);
  CHECK(parse_token_count("1M") == 1'048'576);
  for (const auto* bad : {"", "k", "-5", "0", "1.5", "abc", "12kk", "1e400"}) {
    CAPTURE(bad);
    CHECK_THROWS_AS(parse_token_count(bad), llmctl::Error);
  }
}

TEST_CASE("mem-estimate parses vLLM's spellings, -tp included") {
  llmctl::cli::MemEstimateCommand command;
  std::vector<const char*> argv = {"llmctl-mem-estimate", "model", "-tp", "2", "--max-model-len", "32K", "--gpu", "h200",
                                   "--gpu-memory-utilization", "0.8", "--kv-cache-dtype", "fp8"};
  const int rc = llmctl::cli::run(command, static_cast<int>(argv.size()), const_cast<char**>(argv.data()), [] {});
  CHECK(rc == 0);
  const auto& request = command.options.request;
  CHECK(request.limits.tensor_parallel_size == 2);
  CHECK(request.limits.max_model_len == 32768);
  CHECK(request.limits.gpu_memory_utilization == 0.8);
  CHECK(request.gpu == "h200");
  CHECK(request.kv_cache_dtype == "fp8");

  llmctl::cli::MemEstimateCommand bad;
  std::vector<const char*> bad_argv = {"llmctl-mem-estimate", "model", "--max-model-len", "lots"};
  CHECK(llmctl::cli::run(bad, static_cast<int>(bad_argv.size()), const_cast<char**>(bad_argv.data()), [] {}) == 2);
}

TEST_CASE("bench and generate take the defaults of vLLM's LLM class, serve those of its server") {
  using llmctl::engine::UsageContext;
  CHECK(llmctl::cli::BenchCommand().options.engine.config.limits.usage == UsageContext::offline);
  CHECK(llmctl::cli::GenerateCommand().options.engine.config.limits.usage == UsageContext::offline);
  CHECK(llmctl::cli::ServeCommand().options.engine.config.limits.usage == UsageContext::server);
}

TEST_CASE("bench --latency turns prefix caching off unless asked, as vllm bench latency") {
  const auto caching = [](std::vector<const char*> argv) {
    llmctl::cli::BenchCommand command;
    argv.insert(argv.begin(), {"llmctl-bench", "model"});
    REQUIRE(llmctl::cli::run(command, static_cast<int>(argv.size()), const_cast<char**>(argv.data()), [] {}) == 0);
    return command.options.engine.config.enable_prefix_caching;
  };
  CHECK(caching({}));
  CHECK_FALSE(caching({"--latency"}));
  CHECK(caching({"--latency", "--enable-prefix-caching"}));
  CHECK_FALSE(caching({"--latency", "--no-enable-prefix-caching"}));
  CHECK_FALSE(caching({"--no-enable-prefix-caching"}));
}
