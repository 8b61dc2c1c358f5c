#include "model/rope.hpp"

#include <algorithm>
#include <cmath>
#include <numbers>

namespace llmctl::engine {
namespace {

std::vector<float> default_inv_freq(float base, std::int64_t dim) {
  std::vector<float> inv_freq(static_cast<std::size_t>(dim / 2));
  for (std::size_t i = 0; i < inv_freq.size(); ++i)
    inv_freq[i] = 1.0f / std::pow(base, static_cast<float>(2 * i) / static_cast<float>(dim));
  return inv_freq;
}

void apply_llama3(std::vector<float>& inv_freq, const RopeScaling& scaling) {
  const auto factor = static_cast<float>(scaling.factor);
  const auto low = static_cast<float>(scaling.low_freq_factor);
  const auto high = static_cast<float>(scaling.high_freq_factor);
  const auto old_context = static_cast<float>(scaling.original_max_position_embeddings.value_or(8192));
  const float low_freq_wavelen = old_context / low;
  const float high_freq_wavelen = old_context / high;
  for (float& f : inv_freq) {
    const float wavelen = 2.0f * std::numbers::pi_v<float> / f;
    const float scaled = wavelen > low_freq_wavelen ? f / factor : f;
    if (wavelen < high_freq_wavelen || wavelen > low_freq_wavelen) {
      f = scaled;
    } else {
      const float smooth = (old_context / wavelen - low) / (high - low);
      f = (1.0f - smooth) * scaled / factor + smooth * scaled;
    }
  }
}

double yarn_mscale(double scale) { return scale <= 1.0 ? 1.0 : 0.1 * std::log(scale) + 1.0; }

float yarn(std::vector<float>& inv_freq, const ModelConfig& config, float base, std::int64_t dim) {
  const auto& scaling = config.rope_scaling;
  const double factor = scaling.factor;
  const double original = static_cast<double>(
      scaling.original_max_position_embeddings.value_or(config.max_position_embeddings));
  auto correction_dim = [&](double rotations) {
    return static_cast<double>(dim) * std::log(original / (rotations * 2.0 * std::numbers::pi)) /
           (2.0 * std::log(static_cast<double>(base)));
  };
  const double low = std::max(std::floor(correction_dim(scaling.beta_fast)), 0.0);
  double high = std::min(std::ceil(correction_dim(scaling.beta_slow)), static_cast<double>(dim - 1));
  if (low == high) high += 0.001;
  for (std::size_t i = 0; i < inv_freq.size(); ++i) {
    const float ramp = std::clamp((static_cast<float>(i) - static_cast<float>(low)) / static_cast<float>(high - low),
                                  0.0f, 1.0f);
    const float extrapolation_factor = 1.0f - ramp;
    const float pos_freq = std::pow(base, static_cast<float>(2 * i) / static_cast<float>(dim));
    const float extrapolation = 1.0f / pos_freq;
    const float interpolation = 1.0f / (static_cast<float>(factor) * pos_freq);
    inv_freq[i] = interpolation * (1.0f - extrapolation_factor) + extrapolation * extrapolation_factor;
  }
  return static_cast<float>(scaling.attention_factor.value_or(yarn_mscale(factor)));
}

}  // namespace

RotaryFrequencies rotary_frequencies(const ModelConfig& config) {
  const auto& scaling = config.rope_scaling;
  const std::int64_t dim = config.head_dim;
  auto base = static_cast<float>(config.rope_theta);
  if (scaling.type == "dynamic") {
    const double exponent = static_cast<double>(dim) / static_cast<double>(dim - 2);
    base = static_cast<float>(config.rope_theta * std::pow(scaling.factor * scaling.factor - (scaling.factor - 1.0), exponent));
  }
  RotaryFrequencies result{default_inv_freq(base, dim), 1.0f};
  if (scaling.type == "linear")
    for (float& f : result.inv_freq) f /= static_cast<float>(scaling.factor);
  else if (scaling.type == "llama3")
    apply_llama3(result.inv_freq, scaling);
  else if (scaling.type == "yarn")
    result.attention_factor = yarn(result.inv_freq, config, base, dim);
  return result;
}

std::vector<float> rotary_cos_sin(const RotaryFrequencies& frequencies, std::int64_t positions) {
  const auto half = static_cast<std::int64_t>(frequencies.inv_freq.size());
  std::vector<float> table(static_cast<std::size_t>(positions * 2 * half));
  for (std::int64_t p = 0; p < positions; ++p) {
    float* row = table.data() + p * 2 * half;
    for (std::int64_t i = 0; i < half; ++i) {
      const float angle = static_cast<float>(p) * frequencies.inv_freq[static_cast<std::size_t>(i)];
      row[i] = std::cos(angle) * frequencies.attention_factor;
      row[half + i] = std::sin(angle) * frequencies.attention_factor;
    }
  }
  return table;
}

}  // namespace llmctl::engine
