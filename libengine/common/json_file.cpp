#include "common/json_file.hpp"

#include "common/error.hpp"

#include <fmt/format.h>

#include <fstream>
#include <sstream>

namespace llmctl {

namespace {

template <typename Json>
Json parse_as(std::string_view text, std::string_view origin) {
  try {
    return Json::parse(text);
  } catch (const nlohmann::json::parse_error& e) {
    // nlohmann's message reads "[json.exception.parse_error.101] parse error at line 1, column 2: ..."
    std::string what = e.what();
    const auto pos = what.find("] ");
    throw Error(fmt::format("{}: invalid JSON: {}", origin, pos == std::string::npos ? what : what.substr(pos + 2)));
  }
}

}  // namespace

nlohmann::json parse_json(std::string_view text, std::string_view origin) { return parse_as<nlohmann::json>(text, origin); }

nlohmann::ordered_json parse_ordered_json(std::string_view text, std::string_view origin) {
  return parse_as<nlohmann::ordered_json>(text, origin);
}

std::string read_text_file(const std::filesystem::path& path) {
  std::ifstream in(path, std::ios::binary);
  if (!in) {
    std::error_code ec;
    if (!std::filesystem::exists(path, ec)) throw Error(fmt::format("{}: no such file", path.string()));
    throw Error(fmt::format("{}: cannot be read", path.string()));
  }
  std::ostringstream text;
  text << in.rdbuf();
  return text.str();
}

nlohmann::json read_json_file(const std::filesystem::path& path) { return parse_json(read_text_file(path), path.string()); }

JsonFields::JsonFields(const nlohmann::json& object, std::string origin)
    : object_(object), origin_(std::move(origin)) {
  if (!object_.is_object()) throw Error(fmt::format("{}: expected a JSON object", origin_));
}

const nlohmann::json* JsonFields::find(std::string_view key) const {
  const auto it = object_.find(key);
  if (it == object_.end() || it->is_null()) return nullptr;
  return &*it;
}

bool JsonFields::has(std::string_view key) const { return find(key) != nullptr; }

void JsonFields::fail(std::string_view key, std::string_view expectation) const {
  const auto* value = find(key);
  if (value == nullptr) throw Error(fmt::format("{}: '{}' is missing; it must be {}", origin_, key, expectation));
  std::string shown = value->dump();
  if (shown.size() > 60) shown = shown.substr(0, 57) + "...";
  throw Error(fmt::format("{}: '{}' must be {} (got {})", origin_, key, expectation, shown));
}

std::optional<std::int64_t> JsonFields::optional_positive_int(std::string_view key) const {
  const auto* value = find(key);
  if (value == nullptr) return std::nullopt;
  if (!value->is_number_integer() || value->get<std::int64_t>() <= 0) fail(key, "a positive integer");
  return value->get<std::int64_t>();
}

std::int64_t JsonFields::positive_int(std::string_view key) const {
  const auto value = optional_positive_int(key);
  if (!value) fail(key, "a positive integer");
  return *value;
}

double JsonFields::number(std::string_view key, double fallback) const {
  const auto* value = find(key);
  if (value == nullptr) return fallback;
  if (!value->is_number()) fail(key, "a number");
  return value->get<double>();
}

bool JsonFields::boolean(std::string_view key, bool fallback) const {
  const auto* value = find(key);
  if (value == nullptr) return fallback;
  if (!value->is_boolean()) fail(key, "true or false");
  return value->get<bool>();
}

std::string JsonFields::string(std::string_view key, std::string_view fallback) const {
  const auto* value = find(key);
  if (value == nullptr) return std::string(fallback);
  if (!value->is_string()) fail(key, "a string");
  return value->get<std::string>();
}

std::optional<double> JsonFields::optional_number(std::string_view key) const {
  if (!has(key)) return std::nullopt;
  return number(key, 0.0);
}

std::vector<std::int64_t> JsonFields::int_or_int_list(std::string_view key) const {
  const auto* value = find(key);
  if (value == nullptr) return {};
  if (value->is_number_integer()) return {value->get<std::int64_t>()};
  if (!value->is_array()) fail(key, "an integer or a list of integers");
  std::vector<std::int64_t> values;
  for (const auto& item : *value) {
    if (!item.is_number_integer()) fail(key, "an integer or a list of integers");
    values.push_back(item.get<std::int64_t>());
  }
  return values;
}

}  // namespace llmctl
