#pragma once

#include <CLI/CLI.hpp>

#include <string>

namespace llmctl::cli {

// The MODEL of every command when none is given: llmctl's demo model (packaging/demo-model), a 10 MB
// Qwen2-architecture model trained on the King James Bible, installed as <prefix>/share/llmctl/llmctl-demo
// beside <prefix>/bin (the build tree has the same layout). A folder of that name in the current
// directory takes precedence, as for any path.
inline constexpr const char* kDemoModel = "llmctl-demo";

// Adds the positional MODEL to a command, kDemoModel when left out (shown in --help).
CLI::Option* add_model_argument(CLI::App& app, std::string& model, const std::string& description);

// A MODEL argument as vLLM takes it: a local folder (or file), or a hub id such as
// Qwen/Qwen2.5-7B-Instruct, which is resolved through the Hugging Face cache and, when missing there,
// downloaded ($HF_ENDPOINT, $HF_TOKEN...; with HF_HUB_OFFLINE=1 only the cache answers). `metadata_only`
// fetches just the small files a command reads without weights (config, tokenizer, template);
// kDemoModel names the installed demo model. Returns a local path.
std::string resolve_model_argument(const std::string& model, bool metadata_only);

}  // namespace llmctl::cli
