#pragma once

#include "support/test_files.hpp"
#include "tokenizer/tokenizer.hpp"

#include <array>
#include <map>
#include <string>

namespace llmctl::test {

// The seven tokenizers fetched from npm, and their goldens in tests/fixtures/tokenizers/.
inline constexpr std::array<const char*, 7> kRealTokenizers = {"qwen2_5", "qwen3", "llama3", "llama3_1", "deepseek_v3", "gemma3", "llama2"};

// Loaded once per test process: the large ones take a while to parse.
inline const engine::Tokenizer& real_tokenizer(const std::string& name) {
  static std::map<std::string, engine::Tokenizer> loaded;
  auto found = loaded.find(name);
  if (found == loaded.end()) found = loaded.emplace(name, engine::Tokenizer::load(kTokenizerFiles / name / "tokenizer.json")).first;
  return found->second;
}

}  // namespace llmctl::test
