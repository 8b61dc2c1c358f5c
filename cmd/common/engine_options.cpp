#include "common/engine_options.hpp"

#include "backend/device_query.hpp"
#include "common/error.hpp"
#include "common/json_file.hpp"
#include "common/log.hpp"
#include "model/model_config.hpp"

#include <fmt/format.h>

#include <cstdlib>

namespace llmctl::cli {

void add_engine_options(CLI::App& app, EngineOptions& o, engine::UsageContext usage) {
  auto& config = o.config;
  auto& limits = config.limits;
  limits.usage = usage;
  config.device = "auto";  // as vLLM, which picks its platform itself
  app.add_option("--device", config.device, "auto (the GPU when there is one, else the CPU), cpu or cuda")
      ->check(CLI::IsMember({"auto", "cpu", "cuda"}))
      ->capture_default_str();
  app.add_option("--dtype", config.dtype,
                 "With --device cuda: auto (the checkpoint's 16-bit type, else bfloat16), bfloat16 or float16")
      ->check(CLI::IsMember({"auto", "bfloat16", "float16", "half"}))
      ->capture_default_str();
  add_token_count_option(app, "--max-model-len", limits.max_model_len,
                         "Longest sequence, prompt plus output (default: the model's)");
  app.add_option("--max-num-seqs", limits.max_num_seqs,
                 "Most sequences in one step (default 1024 on GPUs of 70 GiB or more except A100, else 256)");
  add_token_count_option(app, "--max-num-batched-tokens", limits.max_num_batched_tokens,
                         fmt::format("Most tokens in one step; longer prompts are prefilled in chunks (default {} "
                                     "where --max-num-seqs defaults to 1024, else {})",
                                     engine::default_max_num_batched_tokens(usage, true),
                                     engine::default_max_num_batched_tokens(usage, false)));
  app.add_option("--gpu-memory-utilization", limits.gpu_memory_utilization,
                 "Fraction of the GPU's memory the engine may use, KV cache included")
      ->capture_default_str();
  app.add_option("--block-size", limits.block_size, "Tokens per KV cache block")->capture_default_str();
  app.add_option_function<std::int64_t>("--num-gpu-blocks-override", [&config](std::int64_t n) { config.num_blocks = n; },
                                        "KV cache blocks to allocate, whatever the memory (on the CPU too)")
      ->type_name("N");
  app.add_flag("--enable-prefix-caching,!--no-enable-prefix-caching", config.enable_prefix_caching,
               "Reuse the KV cache of shared prompt prefixes (on by default, as in vLLM V1)");
  app.add_flag("--enforce-eager", config.enforce_eager, "Run decode steps without CUDA graphs");
  app.add_option("--load-format", o.load_format,
                 "auto: the checkpoint; dummy: random weights from config.json alone (for benchmarks)")
      ->check(CLI::IsMember({"auto", "dummy"}))
      ->capture_default_str();
  app.add_option("--rope-scaling", o.rope_scaling,
                 R"(RoPE scaling as JSON, replacing config.json's: {"rope_type":"yarn","factor":4.0,...})")
      ->type_name("JSON");
  app.add_option_function<double>("--rope-theta", [&config](double theta) { config.rope_theta = theta; },
                                  "RoPE base, replacing config.json's");
}

engine::EngineConfig engine_config(const EngineOptions& o, const std::filesystem::path& model) {
  engine::EngineConfig config = o.config;
  config.model = model;
  if (config.device == "auto") {
    config.device = engine::query_device(0) ? "cuda" : "cpu";
    log::info("Automatically detected platform {}.", config.device);
  }
  config.load_format = o.dummy_weights() ? engine::LoadFormat::dummy : engine::LoadFormat::checkpoint;
  if (!o.rope_scaling.empty())
    config.rope_scaling = engine::parse_rope_scaling(parse_json(o.rope_scaling, "--rope-scaling"), "--rope-scaling");
  if (const char* space = std::getenv("VLLM_CPU_KVCACHE_SPACE"); space && *space) {
    char* end = nullptr;
    const double gib = std::strtod(space, &end);
    if (*end != '\0' || !(gib > 0 && gib <= 1 << 20))
      throw Error(fmt::format("VLLM_CPU_KVCACHE_SPACE: '{}' is not a size in GiB", space));
    config.cpu_kv_cache_bytes = static_cast<std::uint64_t>(gib * (1ull << 30));
  }
  return config;
}

}  // namespace llmctl::cli
