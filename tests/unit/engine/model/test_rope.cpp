#include "model/rope.hpp"

#include "common/json_file.hpp"
#include "support/engine_runs.hpp"

#include <doctest/doctest.h>

#include <cmath>

using namespace llmctl::engine;
using namespace llmctl::test;

TEST_CASE("rotary frequencies equal transformers' for default, llama3, linear and YaRN scaling") {
  for (const auto& name : kGenerationModelNames) {
    INFO(name);
    const auto config = load_model_config(kGenerationModels / name);
    const auto expected = llmctl::read_json_file(kGenerationModels / name / "expected.json")["rotary"];
    const auto frequencies = rotary_frequencies(config);
    REQUIRE(frequencies.inv_freq.size() == expected["inv_freq"].size());
    for (std::size_t i = 0; i < frequencies.inv_freq.size(); ++i) {
      const auto reference = expected["inv_freq"][i].get<double>();
      CHECK(std::abs(frequencies.inv_freq[i] - reference) <= 1e-6 * reference);
    }
    CHECK(frequencies.attention_factor == doctest::Approx(expected["attention_scaling"].get<double>()).epsilon(1e-6));
  }
}

TEST_CASE("the cos/sin table holds cosines then sines of position times frequency, scaled") {
  RotaryFrequencies frequencies{{1.0f, 0.5f}, 2.0f};
  const auto table = rotary_cos_sin(frequencies, 3);
  REQUIRE(table.size() == 12);
  // Position 2: angles 2 and 1.
  CHECK(table[8] == doctest::Approx(2 * std::cos(2.0f)));
  CHECK(table[9] == doctest::Approx(2 * std::cos(1.0f)));
  CHECK(table[10] == doctest::Approx(2 * std::sin(2.0f)));
  CHECK(table[11] == doctest::Approx(2 * std::sin(1.0f)));
}

TEST_CASE("dynamic NTK scaling raises the base as vLLM does") {
  auto config = load_model_config(kGenerationModels / "qwen3");
  config.rope_scaling.type = "dynamic";
  config.rope_scaling.factor = 2.0;
  const auto scaled = rotary_frequencies(config);
  const double base = config.rope_theta * std::pow(2.0 * 2.0 - 1.0, 32.0 / 30.0);
  CHECK(scaled.inv_freq[1] == doctest::Approx(1.0 / std::pow(base, 2.0 / 32.0)).epsilon(1e-6));
}
