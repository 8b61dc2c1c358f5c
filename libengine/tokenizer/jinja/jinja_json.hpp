#pragma once

#include "tokenizer/jinja/jinja_value.hpp"

#include <nlohmann/json.hpp>

#include <optional>
#include <string>
#include <utility>

// Values to and from JSON, as the Python side sees them: the render context arrives as JSON, and
// transformers' tojson filter is Python's json.dumps.
namespace llmctl::engine::jinja {

// null, booleans, numbers, strings, arrays and objects become None, bool, int or float, str, list
// and dict; object keys keep their order.
Value from_json(const nlohmann::ordered_json& json);

struct JsonDumpOptions {
  bool ensure_ascii = false;          // escape non-ASCII as \uXXXX
  std::optional<std::string> indent;  // one level of indentation; none writes everything on one line
  // (item separator, key separator); by default ", " and ": ", or "," and ": " with an indent.
  std::optional<std::pair<std::string, std::string>> separators;
  bool sort_keys = false;
};

// json.dumps(value, ...): Python's float repr, NaN and Infinity, keys converted as Python does.
// Values JSON cannot hold (Undefined, functions) throw RenderError.
std::string dump_json(const Value& value, const JsonDumpOptions& options);

}  // namespace llmctl::engine::jinja
