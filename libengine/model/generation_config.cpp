#include "model/generation_config.hpp"

#include "common/json_file.hpp"

#include <string>

namespace llmctl::engine {

GenerationConfig parse_generation_config(const nlohmann::json& json, std::string_view origin) {
  const JsonFields fields(json, std::string(origin));
  GenerationConfig config;
  if (auto ids = fields.int_or_int_list("bos_token_id"); !ids.empty()) config.bos_token_id = ids.front();
  if (auto ids = fields.int_or_int_list("pad_token_id"); !ids.empty()) config.pad_token_id = ids.front();
  config.eos_token_ids = fields.int_or_int_list("eos_token_id");
  if (fields.has("do_sample")) config.do_sample = fields.boolean("do_sample", false);
  config.temperature = fields.optional_number("temperature");
  config.top_p = fields.optional_number("top_p");
  if (const auto* top_k = fields.find("top_k")) {
    if (!top_k->is_number_integer()) fields.fail("top_k", "an integer");
    config.top_k = top_k->get<std::int64_t>();
  }
  config.min_p = fields.optional_number("min_p");
  config.repetition_penalty = fields.optional_number("repetition_penalty");
  config.max_new_tokens = fields.optional_positive_int("max_new_tokens");
  return config;
}

std::optional<GenerationConfig> load_generation_config(const std::filesystem::path& folder) {
  const auto path = folder / "generation_config.json";
  if (!std::filesystem::exists(path)) return std::nullopt;
  return parse_generation_config(read_json_file(path), path.string());
}

}  // namespace llmctl::engine
