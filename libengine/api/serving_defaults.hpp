#pragma once

#include "model/generation_config.hpp"

#include <cstdint>
#include <optional>

namespace llmctl::api {

// What the server adds to every request: vLLM's --generation-config auto (the model author's
// temperature, top_p, top_k, min_p and repetition_penalty for fields a request leaves unset;
// max_new_tokens caps max_tokens) and --max-logprobs.
struct ServingDefaults {
  engine::GenerationConfig generation;  // empty with --generation-config vllm
  int max_logprobs = 20;                // -1: no cap
};

}  // namespace llmctl::api
