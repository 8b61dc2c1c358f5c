#include "bench/bench_cli.hpp"

namespace llmctl::cli {

BenchCommand::BenchCommand()
    : Command("bench", "Measure offline throughput (vllm bench throughput) or batch latency (vllm bench latency)") {
  auto& o = options;
  o.engine.config.device = "cuda";
  add_option("model", o.model, "Model folder or hub id; with --load-format dummy only config.json is read");
  add_option("--model", o.model, "The model, as vllm bench names it");
  add_flag("--latency", o.latency, "Time one batch end to end (vllm bench latency) instead of throughput");
  add_token_count_option(*this, "--input-len", o.input_len, "Prompt tokens per request (throughput default 1024, latency 32)");
  add_token_count_option(*this, "--output-len", o.output_len, "Output tokens per request")->capture_default_str();
  add_option("--num-prompts", o.num_prompts, "Requests in the throughput run")->capture_default_str();
  add_option("--n", o.n, "Outputs per request")->capture_default_str();
  add_option("--dataset-name", o.dataset_name, "random: random token ids (the only dataset without files)")
      ->check(CLI::IsMember({"random"}))
      ->capture_default_str();
  add_option("--random-range-ratio", o.random_range_ratio,
             "Lengths drawn uniformly from [len x (1 - r), len x (1 + r)]")
      ->capture_default_str();
  add_option("--seed", o.seed, "Seed of the prompts and of the engine")->capture_default_str();
  add_option("--load-format", o.load_format, "auto: the checkpoint; dummy: random weights from config.json alone")
      ->check(CLI::IsMember({"auto", "dummy"}))
      ->capture_default_str();
  add_option("--output-json", o.output_json, "Also write the results to this JSON file")->type_name("FILE");
  add_option("--batch-size", o.batch_size, "With --latency: requests in the batch")->capture_default_str();
  add_option("--num-iters-warmup", o.num_iters_warmup, "With --latency: untimed runs first")->capture_default_str();
  add_option("--num-iters", o.num_iters, "With --latency: timed runs")->capture_default_str();

  add_flag("--profile", o.profile,
           "Also print the GPU time of each kind of operation, from CUDA events (decode steps then run without graphs)");
  add_engine_options(*this, o.engine);
}

}  // namespace llmctl::cli
