#pragma once

#include <nlohmann/json.hpp>

#include <cstdint>
#include <filesystem>
#include <optional>
#include <string>
#include <string_view>
#include <vector>

namespace llmctl {

// The bytes of a file; a missing or unreadable file is an llmctl::Error that names it.
std::string read_text_file(const std::filesystem::path& path);

// Reads and parses a JSON file; a missing, unreadable or malformed file is an llmctl::Error that names
// the file (and the position of a syntax error).
nlohmann::json read_json_file(const std::filesystem::path& path);

// Parses JSON text; `origin` names where it came from in error messages.
nlohmann::json parse_json(std::string_view text, std::string_view origin);
// The same, keeping the keys in document order (chat messages and tools, whose order templates show).
nlohmann::ordered_json parse_ordered_json(std::string_view text, std::string_view origin);

// Typed, checked access to the fields of a JSON object. `origin` ("config.json") prefixes errors.
class JsonFields {
 public:
  JsonFields(const nlohmann::json& object, std::string origin);

  bool has(std::string_view key) const;  // present and not null
  const nlohmann::json* find(std::string_view key) const;  // null when absent or null

  std::int64_t positive_int(std::string_view key) const;  // required, > 0
  std::optional<std::int64_t> optional_positive_int(std::string_view key) const;
  double number(std::string_view key, double fallback) const;
  bool boolean(std::string_view key, bool fallback) const;
  std::string string(std::string_view key, std::string_view fallback) const;
  std::optional<double> optional_number(std::string_view key) const;
  std::vector<std::int64_t> int_or_int_list(std::string_view key) const;  // empty when absent

  [[noreturn]] void fail(std::string_view key, std::string_view expectation) const;
  const std::string& origin() const { return origin_; }

 private:
  const nlohmann::json& object_;
  std::string origin_;
};

}  // namespace llmctl
