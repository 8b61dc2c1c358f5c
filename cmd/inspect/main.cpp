// llmctl-inspect: prints what a model folder holds, from its metadata and checkpoint headers; also
// tokenizes, detokenizes and renders chat prompts with the model's own tokenizer and template.
#include "common/model_argument.hpp"
#include "common/text.hpp"
#include "inspect/inspect_cli.hpp"
#include "inspect/inspect_tokenizer.hpp"
#include "model/model_info.hpp"

#include <fmt/format.h>
#include <fmt/ranges.h>

#include <cstdio>

namespace {

using llmctl::engine::ModelInfo;

std::string rope_summary(const llmctl::engine::ModelConfig& c) {
  const auto& r = c.rope_scaling;
  std::string text = fmt::format("theta {}", llmctl::format_number(c.rope_theta));
  if (r.type == "default") return text + ", no scaling";
  text += fmt::format(", {} scaling x{:g}", r.type, r.factor);
  if (r.original_max_position_embeddings) text += fmt::format(" from {}", *r.original_max_position_embeddings);
  if (r.type == "llama3") text += fmt::format(" (low_freq_factor {:g}, high_freq_factor {:g})", r.low_freq_factor, r.high_freq_factor);
  return text;
}

void print_text(const ModelInfo& info, bool with_tensors) {
  using llmctl::format_bytes;
  using llmctl::format_thousands;
  const auto& c = info.config;
  const auto row = [](std::string_view label, const std::string& value) {
    fmt::print("{:<16}{}\n", label, value);
  };
  row("Model", info.folder.string());
  row("Architecture", fmt::format("{} ({})", c.architecture, c.model_type));
  row("Parameters", fmt::format("{} ({}, from {})", format_thousands(info.parameters()), llmctl::format_count(info.parameters()),
                                info.parameters_source()));
  std::string dtypes;
  for (const auto& [dtype, count] : info.checkpoint.parameters_by_dtype())
    dtypes += fmt::format("{}{} {}", dtypes.empty() ? "" : ", ", llmctl::engine::name(dtype), format_thousands(count));
  row("Dtype", fmt::format("{}{}", c.dtype ? std::string(llmctl::engine::torch_name(*c.dtype)) : "not given",
                           dtypes.empty() ? "" : " (checkpoint: " + dtypes + ")"));
  row("Layers", std::to_string(c.num_layers));
  row("Hidden size", fmt::format("{} (MLP {})", c.hidden_size, c.intermediate_size));
  row("Heads", fmt::format("{} query, {} key/value, head_dim {}", c.num_attention_heads, c.num_kv_heads, c.head_dim));
  row("Context", fmt::format("{} tokens (max_position_embeddings {})", c.derived_max_model_len(), c.max_position_embeddings));
  row("RoPE", rope_summary(c));
  row("Vocabulary", fmt::format("{} (tied embeddings: {})", c.vocab_size, c.tie_word_embeddings ? "yes" : "no"));
  row("Sliding window", c.sliding_window ? fmt::format("{} tokens from layer {}", *c.sliding_window, c.sliding_window_first_layer)
                                         : std::string("none"));
  row("Quantization", c.quantization_config.is_null() ? "none" : c.quantization_config.dump());

  const auto& tokenizer = info.tokenizer;
  row("Chat template", tokenizer && tokenizer->chat_template ? fmt::format("yes ({})", tokenizer->chat_template_file) : "no");
  if (tokenizer) {
    std::string special;
    for (const auto& [label, value] : {std::pair{"bos", tokenizer->bos_token}, {"eos", tokenizer->eos_token},
                                       {"pad", tokenizer->pad_token}, {"unk", tokenizer->unk_token}})
      if (value) special += fmt::format("{}{} {}", special.empty() ? "" : ", ", label, *value);
    row("Special tokens", special.empty() ? "none named" : special);
  }
  const auto& eos = info.generation && !info.generation->eos_token_ids.empty() ? info.generation->eos_token_ids
                                                                               : c.eos_token_ids;
  row("EOS token ids", eos.empty() ? "none" : fmt::format("{}", fmt::join(eos, ", ")));
  if (info.generation) {
    const auto& g = *info.generation;
    std::string defaults;
    const auto add = [&defaults](std::string_view key, const std::string& value) {
      defaults += fmt::format("{}{} {}", defaults.empty() ? "" : ", ", key, value);
    };
    if (g.temperature) add("temperature", fmt::format("{:g}", *g.temperature));
    if (g.top_p) add("top_p", fmt::format("{:g}", *g.top_p));
    if (g.top_k) add("top_k", std::to_string(*g.top_k));
    if (g.min_p) add("min_p", fmt::format("{:g}", *g.min_p));
    if (g.repetition_penalty) add("repetition_penalty", fmt::format("{:g}", *g.repetition_penalty));
    if (g.max_new_tokens) add("max_new_tokens", std::to_string(*g.max_new_tokens));
    row("Sampling", defaults.empty() ? "no defaults in generation_config.json" : defaults);
  }
  const auto format = info.checkpoint.format;
  row("Checkpoint", format == llmctl::engine::CheckpointFormat::none
                        ? "none (config only)"
                        : fmt::format("{}, {} file{}, {}",
                                      format == llmctl::engine::CheckpointFormat::safetensors ? "safetensors" : "PyTorch .bin",
                                      info.checkpoint.files.size(), info.checkpoint.files.size() == 1 ? "" : "s",
                                      format_bytes(static_cast<double>(info.checkpoint.file_bytes))));
  for (const auto& problem : info.layout_problems) row("  mismatch", problem);
  row("Files", fmt::format("{} files, {}", info.files.size(), format_bytes(static_cast<double>(info.total_bytes))));
  for (const auto& file : info.files) fmt::print("  {:<40} {:>12}\n", file.path, format_bytes(static_cast<double>(file.bytes)));
  if (with_tensors) {
    fmt::print("Tensors\n");
    for (const auto& tensor : info.checkpoint.tensors)
      fmt::print("  {:<56} {:<8} [{}]  {}\n", tensor.info.name, llmctl::engine::name(tensor.info.dtype),
                 fmt::join(tensor.info.shape, ", "), tensor.file);
  }
}

}  // namespace

int main(int argc, char** argv) {
  llmctl::cli::InspectCommand command;
  return llmctl::cli::run(command, argc, argv, [&] {
    auto& options = command.options;
    options.model = llmctl::cli::resolve_model_argument(options.model, !options.tensors);
    if (llmctl::cli::run_tokenizer_mode(options)) return;
    const auto info = llmctl::engine::describe_model(options.model);
    if (options.json) {
      std::puts(info.to_json(options.tensors).dump(2).c_str());
    } else {
      print_text(info, options.tensors);
    }
  });
}
