#include "mem-estimate/mem_estimate_cli.hpp"

#include "common/model_argument.hpp"
#include "runtime/gpu_catalog.hpp"

namespace llmctl::cli {

MemEstimateCommand::MemEstimateCommand()
    : Command("mem-estimate", "Predict GPU memory: does it fit, how many requests at once, the longest that fits") {
  auto& request = options.request;
  auto& limits = request.limits;
  add_model_argument(*this, options.model, "Model folder (with config.json), the path of its config.json, or a hub id (org/name)");
  add_option("--gpu", request.gpu, "GPU to size for: " + engine::known_gpu_ids() + " (default: the local GPU)")
      ->type_name("NAME");
  add_option_function<double>(
      "--gpu-memory", [&request](double gib) { request.gpu_memory_gib = gib; },
      "GPU memory in GiB, instead of a named GPU's")
      ->type_name("GIB");
  add_option("--tensor-parallel-size", limits.tensor_parallel_size, "Number of GPUs the model is split over (also -tp)")
      ->capture_default_str();
  add_dash_alias("-tp", "--tensor-parallel-size");
  add_token_count_option(*this, "--max-model-len", limits.max_model_len,
                         "Longest request, prompt plus output (default: the model's; 32k and 32K work)");
  add_option("--max-num-seqs", limits.max_num_seqs,
             "Most sequences in one step (default: 1024 on GPUs of 70 GiB or more except A100, else 256)");
  add_token_count_option(*this, "--max-num-batched-tokens", limits.max_num_batched_tokens,
                         "Most tokens in one step (default: 8192 on GPUs of 70 GiB or more except A100, else 2048)");
  add_option("--gpu-memory-utilization", limits.gpu_memory_utilization,
             "Fraction of the GPU's total memory the engine may use")
      ->capture_default_str();
  add_option("--block-size", limits.block_size, "Tokens per KV cache block")->capture_default_str();
  add_option("--dtype", request.dtype, "Weight and activation dtype: auto, bfloat16, float16, float32")
      ->check(CLI::IsMember({"auto", "bfloat16", "float16", "half", "float32", "float"}))
      ->capture_default_str();
  add_option("--kv-cache-dtype", request.kv_cache_dtype, "KV cache dtype: auto (the model's) or fp8")
      ->check(CLI::IsMember({"auto", "fp8"}))
      ->capture_default_str();
  add_flag("--enforce-eager", request.enforce_eager, "Size for a server without CUDA graphs");
  add_flag("--json", options.json, "Print one JSON object on stdout instead of text");
}

}  // namespace llmctl::cli
