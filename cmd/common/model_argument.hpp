#pragma once

#include <string>

namespace llmctl::cli {

// A MODEL argument as vLLM takes it: a local folder (or file), or a hub id such as
// Qwen/Qwen2.5-7B-Instruct, which is resolved through the Hugging Face cache and, when missing there,
// downloaded ($HF_ENDPOINT, $HF_TOKEN...; with HF_HUB_OFFLINE=1 only the cache answers). `metadata_only`
// fetches just the small files a command reads without weights (config, tokenizer, template).
// Returns a local path.
std::string resolve_model_argument(const std::string& model, bool metadata_only);

}  // namespace llmctl::cli
