#pragma once

#include <nlohmann/json.hpp>

#include <cstddef>
#include <memory>
#include <string>
#include <string_view>
#include <utility>
#include <vector>

namespace llmctl::engine {

// A PCRE2 pattern compiled for UTF-8 text with Unicode semantics (UTF + UCP, so \s, \w and \p{..} see
// all of Unicode, as HF tokenizers' Oniguruma and PCRE2 backends do) and JIT-compiled when available.
// Safe to use from several threads at once.
class Regex {
 public:
  explicit Regex(const std::string& pattern);
  ~Regex();
  Regex(Regex&&) noexcept;
  Regex& operator=(Regex&&) noexcept;

  // tokenizer.json's pattern object: {"String": literal} or {"Regex": pattern}.
  static Regex from_pattern(const nlohmann::json& pattern);

  // Byte ranges [begin, end) of the successive non-overlapping matches in `text`, which must be valid
  // UTF-8; empty matches included, as Oniguruma (HF tokenizers) reports them.
  std::vector<std::pair<std::size_t, std::size_t>> find_all(std::string_view text) const;

 private:
  struct Compiled;
  std::unique_ptr<Compiled> compiled_;
};

}  // namespace llmctl::engine
