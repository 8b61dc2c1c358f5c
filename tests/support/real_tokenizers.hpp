#pragma once

#include "common/json_file.hpp"
#include "support/test_files.hpp"
#include "tokenizer/tokenizer.hpp"

#include <array>
#include <map>
#include <string>

namespace llmctl::test {

// The seven tokenizers fetched from npm, and their goldens in tests/fixtures/tokenizers/.
inline constexpr std::array<const char*, 7> kRealTokenizers = {"qwen2_5", "qwen3", "llama3", "llama3_1", "deepseek_v3", "gemma3", "llama2"};
// Goldens of real tokenizers with parts swapped (Metaspace instead of Prepend/Replace), as the golden
// file's "derived_from" and "overrides" say.
inline constexpr std::array<const char*, 9> kGoldenTokenizers = {"qwen2_5", "qwen3", "llama3", "llama3_1", "deepseek_v3",
                                                                 "gemma3", "llama2", "mistral_metaspace", "metaspace_always_split"};

inline nlohmann::json tokenizer_golden(const std::string& name) { return read_json_file(kFixtures / "tokenizers" / (name + ".json")); }

// Loaded once per test process: the large ones take a while to parse.
inline const engine::Tokenizer& real_tokenizer(const std::string& name) {
  static std::map<std::string, engine::Tokenizer> loaded;
  auto found = loaded.find(name);
  if (found != loaded.end()) return found->second;
  const auto golden = tokenizer_golden(name);
  if (!golden.contains("derived_from")) {
    return loaded.emplace(name, engine::Tokenizer::load(kTokenizerFiles / name / "tokenizer.json")).first->second;
  }
  auto spec = read_json_file(kTokenizerFiles / golden.at("derived_from").get<std::string>() / "tokenizer.json");
  spec.update(golden.at("overrides"));
  return loaded.emplace(name, engine::Tokenizer(spec)).first->second;
}

}  // namespace llmctl::test
