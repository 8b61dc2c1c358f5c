#pragma once

#include "common/cli.hpp"
#include "runtime/engine.hpp"

#include <string>

namespace llmctl::cli {

// The engine's flags, named and defaulted as vLLM's, declared once for every command that runs the
// engine (generate, bench, serve).
struct EngineOptions {
  engine::EngineConfig config;
  std::string rope_scaling;  // JSON
  std::string load_format = "auto";  // or "dummy": random weights, only config.json is read

  bool dummy_weights() const { return load_format == "dummy"; }
};

// `usage`: whose defaults the limits take, vLLM's server's (serve) or its LLM class's (generate, bench).
void add_engine_options(CLI::App& app, EngineOptions& options, engine::UsageContext usage);

// The configuration the flags describe, with --device auto resolved, --rope-scaling parsed and
// VLLM_CPU_KVCACHE_SPACE read (llmctl::Error for bad values); `model` is the resolved model folder.
engine::EngineConfig engine_config(const EngineOptions& options, const std::filesystem::path& model);

}  // namespace llmctl::cli
