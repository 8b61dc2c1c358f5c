// llmctl-mem-estimate: predicts GPU memory use with the accounting that sizes the server's KV cache.
#include "common/text.hpp"
#include "mem-estimate/mem_estimate_cli.hpp"
#include "common/model_argument.hpp"
#include "model/model_info.hpp"
#include "model/weight_layout.hpp"
#include "runtime/forward_workspace.hpp"

#include <fmt/format.h>

#include <cstdio>

namespace {

using llmctl::format_bytes;
using llmctl::format_thousands;

std::string gib(double bytes) { return fmt::format("{:.2f} GiB", bytes / (1024.0 * 1024.0 * 1024.0)); }

void print_text(const llmctl::engine::MemoryEstimate& e, const std::string& model) {
  const auto& c = e.config;
  const auto& plan = e.plan;
  const auto& limits = e.limits;
  fmt::print("{} · {} parameters ({})\n", c.architecture, llmctl::format_count(e.parameters),
             format_thousands(e.parameters));
  fmt::print("  {} layers · {} heads · {} kv heads · head_dim {} · vocab {} · max length {}\n", c.num_layers,
             c.num_attention_heads, c.num_kv_heads, c.head_dim, c.vocab_size, c.derived_max_model_len());
  fmt::print("  KV cache per token per GPU: {} ({})\n", format_bytes(static_cast<double>(plan.kv.bytes_per_token())),
             e.kv_cache_dtype == "fp8" ? "fp8" : llmctl::engine::weight_format_name(e.weight_format));
  fmt::print("GPU: {}, {} ({})\n\n", e.gpu_name, gib(static_cast<double>(e.gpu_memory)), e.gpu_source);

  fmt::print("{:<18}", "Weights per GPU");
  for (const auto& [degree, bytes] : e.weights_table.front().bytes_per_tp) fmt::print("{:>12}", fmt::format("TP={}", degree));
  fmt::print("\n");
  for (const auto& row : e.weights_table) {
    fmt::print("  {:<16}", llmctl::engine::weight_format_name(row.format));
    for (const auto& [degree, bytes] : row.bytes_per_tp) fmt::print("{:>12}", bytes ? gib(static_cast<double>(*bytes)) : "-");
    fmt::print("\n");
  }

  fmt::print("\nBudget (TP={}): {} x {:g} = {}\n", limits.tensor_parallel_size, gib(static_cast<double>(plan.total_memory)),
             limits.gpu_memory_utilization, gib(static_cast<double>(plan.budget)));
  const auto line = [](std::string_view label, double bytes, const std::string& note) {
    fmt::print("  {:<14}{:>12}  {}\n", label, gib(bytes), note);
  };
  line("weights", static_cast<double>(plan.usage.weights), std::string(llmctl::engine::weight_format_name(e.weight_format)));
  line("activations", static_cast<double>(plan.usage.activations),
       fmt::format("forward workspace for {} batched tokens, {} sequences", limits.max_num_batched_tokens,
                   limits.max_num_seqs));
  line("CUDA runtime", static_cast<double>(plan.usage.runtime), "context and cuBLAS handles, measured");
  line("CUDA graphs", static_cast<double>(plan.usage.cuda_graphs),
       plan.usage.cuda_graphs == 0 ? "--enforce-eager" : "decode graphs, estimated");
  line("KV cache", static_cast<double>(plan.kv_cache_bytes),
       fmt::format("{} blocks of {} tokens = {} tokens", format_thousands(static_cast<std::uint64_t>(plan.num_blocks)),
                   limits.block_size, format_thousands(static_cast<std::uint64_t>(plan.kv_tokens()))));
  fmt::print("\n");

  if (plan.fits()) {
    fmt::print("Fits: yes. Maximum concurrency for {} tokens per request: {:.2f}x\n", format_thousands(static_cast<std::uint64_t>(limits.max_model_len)),
               plan.max_concurrency());
    fmt::print("Longest single request that fits: {} tokens{}\n", format_thousands(static_cast<std::uint64_t>(plan.kv_tokens())),
               plan.kv_tokens() > c.derived_max_model_len() ? " (more than the model's limit)" : "");
  } else {
    fmt::print("Fits: no. {}\n", llmctl::engine::kv_capacity_problem(plan).value_or(""));
  }
  for (const auto& suggestion : e.suggestions)
    fmt::print("{} {}\n", plan.fits() ? "Suggested: llmctl serve " + model : "Would fit with:", suggestion);
}

}  // namespace

int main(int argc, char** argv) {
  llmctl::cli::MemEstimateCommand command;
  return llmctl::cli::run(command, argc, argv, [&] {
    const auto& options = command.options;
    const auto config =
        llmctl::engine::load_model_config(llmctl::engine::model_folder(llmctl::cli::resolve_model_argument(options.model, true)));
    const auto estimate = llmctl::engine::estimate_memory(config, options.request);
    if (options.json) {
      std::puts(estimate.to_json().dump(2).c_str());
    } else {
      print_text(estimate, options.model);
    }
  });
}
