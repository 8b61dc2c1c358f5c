#pragma once

#include "model/model_config.hpp"

#include <cstdint>
#include <vector>

namespace llmctl::engine {

// Rotary position embedding as the model was trained with it: the inverse frequencies of each pair of
// head dimensions, after the config's scaling (linear, dynamic NTK, llama3, YaRN), and the factor YaRN
// applies to cos and sin.
struct RotaryFrequencies {
  std::vector<float> inv_freq;  // head_dim / 2 entries
  float attention_factor = 1.0f;
};

// Computed in f32 the way transformers computes it, so that angles agree to the last bit. Dynamic NTK
// scaling uses vLLM's fixed base (transformers changes it with the sequence length).
RotaryFrequencies rotary_frequencies(const ModelConfig& config);

// [positions, head_dim] in f32: head_dim / 2 cosines then head_dim / 2 sines of position * inv_freq,
// times the attention factor.
std::vector<float> rotary_cos_sin(const RotaryFrequencies& frequencies, std::int64_t positions);

}  // namespace llmctl::engine
