#pragma once

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

  // Byte ranges [begin, end) of the successive non-overlapping matches in `text`; empty matches are
  // skipped.
  std::vector<std::pair<std::size_t, std::size_t>> find_all(std::string_view text) const;

  static std::string escape(std::string_view literal);

 private:
  struct Compiled;
  std::unique_ptr<Compiled> compiled_;
};

}  // namespace llmctl::engine
