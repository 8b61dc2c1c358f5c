#pragma once

#include "common/cli.hpp"
#include "runtime/engine.hpp"

#include <string>

namespace llmctl::cli {

// The engine's flags, named and defaulted as vLLM's, declared once for every command that runs the
// engine (generate, bench).
struct EngineOptions {
  engine::EngineConfig config;
  bool no_enable_prefix_caching = false;
  std::string rope_scaling;  // JSON
};

void add_engine_options(CLI::App& app, EngineOptions& options);

// The configuration the flags describe, with --rope-scaling parsed and VLLM_CPU_KVCACHE_SPACE read
// (llmctl::Error for bad values); `model` is the resolved model folder.
engine::EngineConfig engine_config(const EngineOptions& options, const std::filesystem::path& model);

}  // namespace llmctl::cli
