#include "tokenizer/jinja/jinja_json.hpp"

#include "tokenizer/jinja/jinja_error.hpp"
#include "tokenizer/jinja/jinja_text.hpp"

#include <fmt/format.h>

#include <algorithm>
#include <cmath>
#include <limits>

namespace llmctl::engine::jinja {
namespace {

std::string json_string(std::string_view text, bool ensure_ascii) {
  std::string out = "\"";
  for (const auto point : code_points(text)) {
    const char32_t c = decode_code_point(point);
    switch (c) {
      case '"':
        out += "\\\"";
        break;
      case '\\':
        out += "\\\\";
        break;
      case '\n':
        out += "\\n";
        break;
      case '\r':
        out += "\\r";
        break;
      case '\t':
        out += "\\t";
        break;
      case '\b':
        out += "\\b";
        break;
      case '\f':
        out += "\\f";
        break;
      default:
        if (c < 0x20 || (ensure_ascii && c > 0x7E && c < 0x10000)) {
          out += fmt::format("\\u{:04x}", static_cast<std::uint32_t>(c));
        } else if (ensure_ascii && c >= 0x10000) {  // a UTF-16 surrogate pair, as Python writes it
          const char32_t offset = c - 0x10000;
          out += fmt::format("\\u{:04x}\\u{:04x}", static_cast<std::uint32_t>(0xD800 + (offset >> 10)),
                             static_cast<std::uint32_t>(0xDC00 + (offset & 0x3FF)));
        } else {
          out += point;
        }
    }
  }
  return out + "\"";
}

std::string json_float(double value) {
  if (std::isnan(value)) return "NaN";
  if (std::isinf(value)) return value > 0 ? "Infinity" : "-Infinity";
  return python_float_repr(value);
}

// Dict keys become strings the way json.dumps converts them.
std::string json_key(const Value& key) {
  switch (key.kind()) {
    case Value::Kind::String:
      return key.as_string();
    case Value::Kind::Boolean:
      return key.as_bool() ? "true" : "false";
    case Value::Kind::None:
      return "null";
    case Value::Kind::Integer:
      return std::to_string(key.as_int());
    case Value::Kind::Float:
      return json_float(key.as_double());
    default:
      throw RenderError(fmt::format("keys must be str, int, float, bool or None, not {}", type_name(key)));
  }
}

class JsonWriter {
 public:
  explicit JsonWriter(const JsonDumpOptions& options)
      : options_(options),
        item_separator_(options.separators ? options.separators->first
                        : options.indent   ? ","
                                           : ", "),
        key_separator_(options.separators ? options.separators->second : ": ") {}

  void write(const Value& value, std::size_t level) {
    switch (value.kind()) {
      case Value::Kind::None:
        out_ += "null";
        return;
      case Value::Kind::Boolean:
        out_ += value.as_bool() ? "true" : "false";
        return;
      case Value::Kind::Integer:
        out_ += std::to_string(value.as_int());
        return;
      case Value::Kind::Float:
        out_ += json_float(value.as_double());
        return;
      case Value::Kind::String:
        out_ += json_string(value.as_string(), options_.ensure_ascii);
        return;
      case Value::Kind::List:
      case Value::Kind::Tuple:
        write_list(value.items(), level);
        return;
      case Value::Kind::Dict:
        write_dict(value.as_dict(), level);
        return;
      default:
        throw RenderError(fmt::format("Object of type {} is not JSON serializable", type_name(value)));
    }
  }

  std::string take() { return std::move(out_); }

 private:
  const JsonDumpOptions& options_;
  const std::string item_separator_;
  const std::string key_separator_;
  std::string out_;

  // Opens a container: the separator between its items, and what comes before the first.
  std::string open(char bracket, std::size_t level) {
    out_ += bracket;
    if (!options_.indent) return item_separator_;
    std::string newline_indent = "\n";
    for (std::size_t i = 0; i <= level; ++i) newline_indent += *options_.indent;
    out_ += newline_indent;
    return item_separator_ + newline_indent;
  }

  void close(char bracket, std::size_t level) {
    if (options_.indent) {
      out_ += '\n';
      for (std::size_t i = 0; i < level; ++i) out_ += *options_.indent;
    }
    out_ += bracket;
  }

  void write_list(const std::vector<Value>& items, std::size_t level) {
    if (items.empty()) {
      out_ += "[]";
      return;
    }
    const std::string separator = open('[', level);
    for (std::size_t i = 0; i < items.size(); ++i) {
      if (i > 0) out_ += separator;
      write(items[i], level + 1);
    }
    close(']', level);
  }

  void write_dict(const Dict& dict, std::size_t level) {
    if (dict.size() == 0) {
      out_ += "{}";
      return;
    }
    std::vector<const std::pair<Value, Value>*> entries;
    for (const auto& entry : dict.entries()) entries.push_back(&entry);
    if (options_.sort_keys)
      std::stable_sort(entries.begin(), entries.end(),
                       [](const auto* a, const auto* b) { return python_order(a->first, b->first) < 0; });
    const std::string separator = open('{', level);
    for (std::size_t i = 0; i < entries.size(); ++i) {
      if (i > 0) out_ += separator;
      out_ += json_string(json_key(entries[i]->first), options_.ensure_ascii) + key_separator_;
      write(entries[i]->second, level + 1);
    }
    close('}', level);
  }
};

}  // namespace

Value from_json(const nlohmann::ordered_json& json) {
  switch (json.type()) {
    case nlohmann::ordered_json::value_t::null:
      return Value();
    case nlohmann::ordered_json::value_t::boolean:
      return json.get<bool>();
    case nlohmann::ordered_json::value_t::number_integer:
      return json.get<std::int64_t>();
    case nlohmann::ordered_json::value_t::number_unsigned: {
      const auto number = json.get<std::uint64_t>();
      if (number <= static_cast<std::uint64_t>(std::numeric_limits<std::int64_t>::max()))
        return static_cast<std::int64_t>(number);
      return static_cast<double>(number);
    }
    case nlohmann::ordered_json::value_t::number_float:
      return json.get<double>();
    case nlohmann::ordered_json::value_t::string:
      return json.get<std::string>();
    case nlohmann::ordered_json::value_t::array: {
      std::vector<Value> items;
      items.reserve(json.size());
      for (const auto& item : json) items.push_back(from_json(item));
      return Value::list(std::move(items));
    }
    case nlohmann::ordered_json::value_t::object: {
      Dict dict;
      for (const auto& [key, item] : json.items()) dict.set(key, from_json(item));
      return Value::dict(std::move(dict));
    }
    default:
      throw RenderError("the context holds binary data, which templates cannot use");
  }
}

std::string dump_json(const Value& value, const JsonDumpOptions& options) {
  JsonWriter writer(options);
  writer.write(value, 0);
  return writer.take();
}

}  // namespace llmctl::engine::jinja
