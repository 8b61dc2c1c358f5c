#pragma once

#include "inspect/inspect_cli.hpp"

namespace llmctl::cli {

// --tokenize, --detokenize and --render-chat: true when one of them was asked for (and has run).
bool run_tokenizer_mode(const InspectOptions& options);

}  // namespace llmctl::cli
