#pragma once

#include <nlohmann/json.hpp>

#include <cstdint>
#include <filesystem>
#include <optional>
#include <string_view>
#include <vector>

namespace llmctl::engine {

// generation_config.json: the model author's sampling defaults and stop tokens. eos_token_id is often
// a list (Llama-3.1: 128001, 128008, 128009), and every id in it ends generation.
struct GenerationConfig {
  std::optional<std::int64_t> bos_token_id;
  std::optional<std::int64_t> pad_token_id;
  std::vector<std::int64_t> eos_token_ids;
  std::optional<bool> do_sample;
  std::optional<double> temperature;
  std::optional<double> top_p;
  std::optional<std::int64_t> top_k;
  std::optional<double> min_p;
  std::optional<double> repetition_penalty;
  std::optional<std::int64_t> max_new_tokens;
};

GenerationConfig parse_generation_config(const nlohmann::json& json, std::string_view origin);

// Reads `folder`/generation_config.json; nullopt when the file does not exist.
std::optional<GenerationConfig> load_generation_config(const std::filesystem::path& folder);

}  // namespace llmctl::engine
