#include "bench/bench_cli.hpp"

namespace llmctl::cli {

BenchCommand::BenchCommand()
    : Command("bench", "Measure offline throughput (vllm bench throughput) or batch latency (vllm bench latency)") {
  auto& o = options;
  auto& limits = o.engine.limits;
  o.engine.device = "cuda";
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

  add_option("--device", o.engine.device, "cuda or cpu")->check(CLI::IsMember({"cpu", "cuda"}))->capture_default_str();
  add_option("--dtype", o.engine.dtype, "With cuda: auto, bfloat16 or float16")
      ->check(CLI::IsMember({"auto", "bfloat16", "float16", "half"}))
      ->capture_default_str();
  add_token_count_option(*this, "--max-model-len", limits.max_model_len, "Longest sequence (default: the model's)");
  add_option("--max-num-seqs", limits.max_num_seqs, "Most sequences in one step (default 1024 on large GPUs, else 256)");
  add_token_count_option(*this, "--max-num-batched-tokens", limits.max_num_batched_tokens,
                         "Most tokens in one step (default 8192 on large GPUs, else 2048)");
  add_option("--gpu-memory-utilization", limits.gpu_memory_utilization, "Fraction of the GPU's memory the engine may use")
      ->capture_default_str();
  add_option("--block-size", limits.block_size, "Tokens per KV cache block")->capture_default_str();
  add_option_function<std::int64_t>("--num-gpu-blocks-override", [&o](std::int64_t n) { o.engine.num_blocks = n; },
                                    "KV cache blocks to allocate, whatever the memory")
      ->type_name("N");
  add_flag("--no-enable-prefix-caching", o.no_enable_prefix_caching, "Do not reuse the KV cache of shared prefixes");
}

}  // namespace llmctl::cli
