#pragma once
// `llmctl bench serve`: vLLM's online serving benchmark (vllm/benchmarks/serve.py) against a running
// OpenAI-compatible server: random prompts sent at a request rate, streamed back and timed, and
// vLLM's result block and JSON.

#include "bench/bench_cli.hpp"

namespace llmctl::bench {

// Runs the benchmark and prints its results; llmctl::Error when it cannot run or no request succeeded.
void run_serve_benchmark(const cli::ServeBenchOptions& options);

}  // namespace llmctl::bench
