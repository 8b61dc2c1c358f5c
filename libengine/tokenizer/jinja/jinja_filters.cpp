// Jinja's filters (`value | name(arguments)`), as jinja2/filters.py defines them, with transformers'
// tojson in place of Jinja's.
#include "tokenizer/jinja/jinja_builtins.hpp"

#include "tokenizer/jinja/jinja_error.hpp"
#include "tokenizer/jinja/jinja_json.hpp"
#include "tokenizer/jinja/jinja_operators.hpp"
#include "tokenizer/jinja/jinja_text.hpp"

#include <fmt/format.h>

#include <algorithm>
#include <cctype>
#include <charconv>
#include <cmath>
#include <map>

namespace llmctl::engine::jinja {
namespace {

using Filter = Value (*)(const Value& input, const Arguments& arguments);

bool is_true(const std::optional<Value>& argument) { return argument && truthy(*argument); }

const Value& required(const std::optional<Value>& argument, std::string_view function, std::string_view name) {
  if (!argument) throw RenderError(fmt::format("{}() missing required argument: '{}'", function, name));
  return *argument;
}

// Jinja's ignore_case: strings compare lowercased unless case_sensitive.
Value fold_case(Value value, bool case_sensitive) {
  if (case_sensitive || !value.is_string()) return value;
  return python_lower(value.as_string());
}

// Jinja's make_attrgetter: "a.b.0" looks up a, then b, then item 0. With a default, an undefined
// step becomes the default.
Value lookup_path(const Value& item, const Value& attribute, const std::optional<Value>& fallback = std::nullopt) {
  std::vector<Value> parts;
  if (attribute.is_string()) {
    for (auto& part : python_split(attribute.as_string(), ".", -1)) {
      std::int64_t index = 0;
      const auto parsed = std::from_chars(part.data(), part.data() + part.size(), index);
      const bool is_index =
          !part.empty() && part[0] != '-' && parsed.ec == std::errc{} && parsed.ptr == part.data() + part.size();
      parts.push_back(is_index ? Value(index) : Value(std::move(part)));
    }
  } else if (!attribute.is_none()) {
    parts.push_back(attribute);
  }
  Value current = item;
  for (const auto& part : parts) {
    current = get_item(current, part);
    if (fallback && !fallback->is_none() && current.is_undefined()) current = *fallback;
  }
  return current;
}

std::optional<double> parse_python_float(std::string_view text) {
  text = python_strip(text, StripSide::Both);
  bool negative = false;
  if (!text.empty() && (text[0] == '+' || text[0] == '-')) {
    negative = text[0] == '-';
    text.remove_prefix(1);
  }
  const std::string lower = python_lower(text);
  if (lower == "inf" || lower == "infinity") return negative ? -INFINITY : INFINITY;
  if (lower == "nan") return NAN;
  // Underscores may only sit between digits; from_chars reads the rest.
  std::string digits;
  for (std::size_t i = 0; i < text.size(); ++i) {
    if (text[i] != '_') {
      digits += text[i];
      continue;
    }
    const bool between_digits = i > 0 && i + 1 < text.size() && std::isdigit(static_cast<unsigned char>(text[i - 1])) &&
                                std::isdigit(static_cast<unsigned char>(text[i + 1]));
    if (!between_digits) return std::nullopt;
  }
  if (digits.empty() || !(std::isdigit(static_cast<unsigned char>(digits[0])) || digits[0] == '.')) return std::nullopt;
  double value = 0;
  const auto result = std::from_chars(digits.data(), digits.data() + digits.size(), value);
  if (result.ec != std::errc{} || result.ptr != digits.data() + digits.size()) return std::nullopt;
  return negative ? -value : value;
}

// int(text, base): surrounding whitespace, a sign, a 0x/0o/0b prefix matching the base, underscores
// between digits.
std::optional<std::int64_t> parse_python_int(std::string_view text, std::int64_t base) {
  text = python_strip(text, StripSide::Both);
  bool negative = false;
  if (!text.empty() && (text[0] == '+' || text[0] == '-')) {
    negative = text[0] == '-';
    text.remove_prefix(1);
  }
  if (text.size() > 2 && text[0] == '0') {
    const char prefix = static_cast<char>(text[1] | 0x20);
    const std::int64_t prefix_base = prefix == 'x' ? 16 : prefix == 'o' ? 8 : prefix == 'b' ? 2 : 0;
    if (prefix_base != 0 && (base == 0 || base == prefix_base)) {
      base = prefix_base;
      text.remove_prefix(text[2] == '_' ? 3 : 2);
    }
  }
  if (base == 0) base = 10;
  if (text.empty()) return std::nullopt;
  std::int64_t value = 0;
  for (std::size_t i = 0; i < text.size(); ++i) {
    if (text[i] == '_' && i > 0 && i + 1 < text.size() && text[i - 1] != '_') continue;
    const char c = static_cast<char>(text[i] | 0x20);
    const std::int64_t digit = c >= '0' && c <= '9' ? c - '0' : c >= 'a' && c <= 'z' ? c - 'a' + 10 : 99;
    if (digit >= base) return std::nullopt;
    if (__builtin_mul_overflow(value, base, &value) || __builtin_add_overflow(value, digit, &value))
      throw RenderError("integer overflow: the result does not fit in 64 bits");
  }
  return negative ? -value : value;
}

std::int64_t float_to_int(double value) {
  if (std::isnan(value)) throw RenderError("cannot convert float NaN to integer");
  if (std::isinf(value)) throw RenderError("cannot convert float infinity to integer");
  if (std::fabs(value) >= 9.2e18) throw RenderError("integer overflow: the result does not fit in 64 bits");
  return static_cast<std::int64_t>(value);
}

// Python's round(x, digits): the nearest value with that many decimals, ties to even.
double round_float(double value, std::int64_t digits) {
  if (!std::isfinite(value) || digits > 323) return value;
  if (digits < 0) {
    const double scale = std::pow(10.0, static_cast<double>(-digits));
    return std::nearbyint(value / scale) * scale;
  }
  char buffer[512];
  const auto written =
      std::to_chars(buffer, buffer + sizeof buffer, value, std::chars_format::fixed, static_cast<int>(digits));
  double rounded = value;
  std::from_chars(buffer, written.ptr, rounded);
  return rounded;
}


// --- The filters, by name ---

Value filter_abs(const Value& input, const Arguments& arguments) {
  arguments.bind("abs", {});
  if (input.is_float()) return std::fabs(input.as_double());
  if (!input.is_number()) throw RenderError(fmt::format("bad operand type for abs(): '{}'", type_name(input)));
  return input.as_int() < 0 ? negate(input) : Value(input.as_int());
}

Value filter_capitalize(const Value& input, const Arguments& arguments) {
  arguments.bind("capitalize", {});
  return python_capitalize(to_str(input));
}

Value filter_default(const Value& input, const Arguments& arguments) {
  const auto args = arguments.bind("default", {"default_value", "boolean"});
  if (input.is_undefined() || (is_true(args[1]) && !truthy(input))) return args[0].value_or(Value(""));
  return input;
}

Value filter_dictsort(const Value& input, const Arguments& arguments) {
  const auto args = arguments.bind("dictsort", {"case_sensitive", "by", "reverse"});
  const std::string by = args[1] ? to_str(*args[1]) : "key";
  if (by != "key" && by != "value") throw RenderError("You can only sort by either \"key\" or \"value\"");
  input.require_defined();
  if (!input.is_dict()) throw RenderError(fmt::format("'{}' object has no attribute 'items'", type_name(input)));
  const bool case_sensitive = is_true(args[0]);
  const bool reverse = is_true(args[2]);
  auto entries = input.as_dict().entries();
  std::stable_sort(entries.begin(), entries.end(), [&](const auto& a, const auto& b) {
    const Value left = fold_case(by == "key" ? a.first : a.second, case_sensitive);
    const Value right = fold_case(by == "key" ? b.first : b.second, case_sensitive);
    return reverse ? python_order(right, left) < 0 : python_order(left, right) < 0;
  });
  std::vector<Value> pairs;
  for (const auto& [key, value] : entries) pairs.push_back(Value::tuple({key, value}));
  return Value::list(std::move(pairs));
}

Value filter_escape(const Value& input, const Arguments& arguments) {
  arguments.bind("escape", {});
  std::string out;
  for (const char c : to_str(input)) {
    switch (c) {
      case '&':
        out += "&amp;";
        break;
      case '<':
        out += "&lt;";
        break;
      case '>':
        out += "&gt;";
        break;
      case '"':
        out += "&#34;";
        break;
      case '\'':
        out += "&#39;";
        break;
      default:
        out += c;
    }
  }
  return out;
}

Value filter_first(const Value& input, const Arguments& arguments) {
  arguments.bind("first", {});
  if (input.kind() == Value::Kind::Generator) {
    auto& generator = input.as_generator();
    if (generator.next < generator.items.size()) return generator.items[generator.next++];
  } else if (auto items = iterate(input); !items.empty()) {
    return items.front();
  }
  return Value::undefined("No first item, sequence was empty.");
}

Value filter_float(const Value& input, const Arguments& arguments) {
  const auto args = arguments.bind("float", {"default"});
  input.require_defined();
  if (input.is_number()) return input.as_double();
  if (input.is_string())
    if (const auto parsed = parse_python_float(input.as_string())) return *parsed;
  return args[0].value_or(Value(0.0));
}

Value filter_format(const Value& input, const Arguments& arguments) {
  if (!arguments.positional.empty() && !arguments.keyword.empty())
    throw RenderError("can't handle positional and keyword arguments at the same time");
  if (arguments.keyword.empty()) return percent_format(to_str(input), Value::tuple(arguments.positional));
  Dict keywords;
  for (const auto& [name, value] : arguments.keyword) keywords.set(name, value);
  return percent_format(to_str(input), Value::dict(std::move(keywords)));
}

Value filter_indent(const Value& input, const Arguments& arguments) {
  const auto args = arguments.bind("indent", {"width", "first", "blank"});
  // Jinja appends a newline first, so a trailing newline yields one more (empty) line; that fails
  // for anything but a string, as Python fails it.
  input.require_defined();
  if (input.kind() == Value::Kind::List) throw RenderError("'list' object has no attribute 'splitlines'");
  if (input.kind() == Value::Kind::Tuple) throw RenderError("can only concatenate tuple (not \"str\") to tuple");
  if (!input.is_string())
    throw RenderError(fmt::format("unsupported operand type(s) for +=: '{}' and 'str'", type_name(input)));
  const Value width = args[0].value_or(Value(4));
  const std::string indention = width.is_string() ? width.as_string() : to_str(multiply(Value(" "), width));
  const std::string text = input.as_string() + "\n";
  const auto lines = python_splitlines(text);
  std::string result(lines.front());
  for (std::size_t i = 1; i < lines.size(); ++i) {
    result += "\n";
    if (is_true(args[2]) || !lines[i].empty()) result += indention;
    result += lines[i];
  }
  return is_true(args[1]) ? indention + result : result;
}

Value filter_int(const Value& input, const Arguments& arguments) {
  const auto args = arguments.bind("int", {"default", "base"});
  const Value fallback = args[0].value_or(Value(0));
  input.require_defined();
  if (input.is_string()) {
    if (const auto parsed = parse_python_int(input.as_string(), args[1] ? to_index(*args[1]) : 10)) return *parsed;
    // "42.23" | int is 42, through float().
    const auto parsed = parse_python_float(input.as_string());
    if (!parsed || std::isnan(*parsed)) return fallback;
    return float_to_int(*parsed);
  }
  if (input.is_float()) return std::isnan(input.as_double()) ? fallback : Value(float_to_int(input.as_double()));
  if (input.is_number()) return input.as_int();
  return fallback;
}

Value filter_items(const Value& input, const Arguments& arguments) {
  arguments.bind("items", {});
  if (input.is_undefined()) return Value::generator({});
  if (!input.is_dict()) throw RenderError("Can only get item pairs from a mapping.");
  std::vector<Value> pairs;
  for (const auto& [key, value] : input.as_dict().entries()) pairs.push_back(Value::tuple({key, value}));
  return Value::generator(std::move(pairs));
}

Value filter_join(const Value& input, const Arguments& arguments) {
  const auto args = arguments.bind("join", {"d", "attribute"});
  const std::string separator = args[0] ? to_str(*args[0]) : "";
  std::string out;
  bool first = true;
  for (const auto& item : iterate(input)) {
    if (!first) out += separator;
    first = false;
    out += to_str(args[1] ? lookup_path(item, *args[1]) : item);
  }
  return out;
}

Value filter_last(const Value& input, const Arguments& arguments) {
  arguments.bind("last", {});
  const bool reversible = input.is_undefined() || input.is_string() || input.is_list_or_tuple() || input.is_dict();
  if (!reversible) throw RenderError(fmt::format("'{}' object is not reversible", type_name(input)));
  if (auto items = iterate(input); !items.empty()) return items.back();
  return Value::undefined("No last item, sequence was empty.");
}

Value filter_length(const Value& input, const Arguments& arguments) {
  arguments.bind("length", {});
  return length(input);
}

Value filter_list(const Value& input, const Arguments& arguments) {
  arguments.bind("list", {});
  return Value::list(iterate(input));
}

Value filter_lower(const Value& input, const Arguments& arguments) {
  arguments.bind("lower", {});
  return python_lower(to_str(input));
}

Value filter_map(const Value& input, const Arguments& arguments) {
  if (!truthy(input)) return Value::generator({});
  std::vector<Value> results;
  const bool by_attribute =
      arguments.positional.empty() && std::any_of(arguments.keyword.begin(), arguments.keyword.end(),
                                                  [](const auto& keyword) { return keyword.first == "attribute"; });
  if (by_attribute) {
    const auto args = arguments.bind("map", {"attribute", "default"});
    for (const auto& item : iterate(input)) results.push_back(lookup_path(item, *args[0], args[1]));
  } else {
    if (arguments.positional.empty()) throw RenderError("map requires a filter argument");
    const std::string name = to_str(arguments.positional.front());
    const Arguments rest{{arguments.positional.begin() + 1, arguments.positional.end()}, arguments.keyword};
    for (const auto& item : iterate(input)) results.push_back(apply_filter(name, item, rest));
  }
  return Value::generator(std::move(results));
}

Value aggregate(const Value& input, const Arguments& arguments, bool want_max) {
  const auto args = arguments.bind(want_max ? "max" : "min", {"case_sensitive", "attribute"});
  const auto items = iterate(input);
  if (items.empty()) return Value::undefined("No aggregated item, sequence was empty.");
  const auto key = [&](const Value& item) {
    return fold_case(args[1] ? lookup_path(item, *args[1]) : item, is_true(args[0]));
  };
  std::size_t best = 0;
  Value best_key = key(items[0]);
  for (std::size_t i = 1; i < items.size(); ++i) {
    Value candidate = key(items[i]);
    const auto order = python_order(candidate, best_key, want_max ? ">" : "<");
    if (want_max ? order > 0 : order < 0) {
      best = i;
      best_key = std::move(candidate);
    }
  }
  return items[best];
}

Value filter_max(const Value& input, const Arguments& arguments) { return aggregate(input, arguments, true); }
Value filter_min(const Value& input, const Arguments& arguments) { return aggregate(input, arguments, false); }

// select/reject(test, args...) and selectattr/rejectattr(attribute, test, args...); without a test,
// an item's truth decides.
Value select_items(const Value& input, const Arguments& arguments, bool keep_passing, bool by_attribute) {
  if (!truthy(input)) return Value::generator({});
  const auto& positional = arguments.positional;
  if (by_attribute && positional.empty()) throw RenderError("Missing parameter for attribute name");
  const std::size_t test_index = by_attribute ? 1 : 0;
  const bool has_test = positional.size() > test_index;
  const Arguments test_arguments{
      has_test ? std::vector<Value>(positional.begin() + static_cast<std::ptrdiff_t>(test_index) + 1, positional.end())
               : std::vector<Value>{},
      arguments.keyword};
  std::vector<Value> results;
  for (const auto& item : iterate(input)) {
    const Value subject = by_attribute ? lookup_path(item, positional.front()) : item;
    const bool passed =
        has_test ? apply_test(to_str(positional[test_index]), subject, test_arguments) : truthy(subject);
    if (passed == keep_passing) results.push_back(item);
  }
  return Value::generator(std::move(results));
}

Value filter_select(const Value& input, const Arguments& arguments) {
  return select_items(input, arguments, true, false);
}
Value filter_reject(const Value& input, const Arguments& arguments) {
  return select_items(input, arguments, false, false);
}
Value filter_selectattr(const Value& input, const Arguments& arguments) {
  return select_items(input, arguments, true, true);
}
Value filter_rejectattr(const Value& input, const Arguments& arguments) {
  return select_items(input, arguments, false, true);
}

Value filter_replace(const Value& input, const Arguments& arguments) {
  const auto args = arguments.bind("replace", {"old", "new", "count"});
  const std::string old = to_str(required(args[0], "replace", "old"));
  const std::string replacement = to_str(required(args[1], "replace", "new"));
  const std::int64_t count = args[2] && !args[2]->is_none() ? to_index(*args[2]) : -1;
  return python_replace(to_str(input), old, replacement, count);
}

Value filter_reverse(const Value& input, const Arguments& arguments) {
  arguments.bind("reverse", {});
  if (input.is_string()) {
    const auto points = code_points(input.as_string());
    std::string reversed;
    for (auto point = points.rbegin(); point != points.rend(); ++point) reversed += *point;
    return reversed;
  }
  if (!input.is_undefined() && !input.is_list_or_tuple() && !input.is_dict() && input.kind() != Value::Kind::Generator)
    throw RenderError("argument must be iterable");
  auto items = iterate(input);
  std::reverse(items.begin(), items.end());
  // Python's reversed() is an iterator; a generator cannot be reversed, so Jinja makes it a list.
  return input.kind() == Value::Kind::Generator ? Value::list(std::move(items)) : Value::generator(std::move(items));
}

Value filter_round(const Value& input, const Arguments& arguments) {
  const auto args = arguments.bind("round", {"precision", "method"});
  const std::int64_t precision = args[0] ? to_index(*args[0]) : 0;
  const std::string method = args[1] ? to_str(*args[1]) : "common";
  if (method != "common" && method != "ceil" && method != "floor")
    throw RenderError("method must be common, ceil or floor");
  if (!input.is_number()) throw RenderError(fmt::format("type {} doesn't define __round__ method", type_name(input)));
  if (method != "common") {
    const double scale = std::pow(10.0, static_cast<double>(precision));
    const double scaled = input.as_double() * scale;
    return (method == "ceil" ? std::ceil(scaled) : std::floor(scaled)) / scale;
  }
  if (input.is_float()) return round_float(input.as_double(), precision);
  if (precision >= 0) return input.as_int();
  // An int rounded to tens, hundreds, ...: ties to even, as Python does.
  const Value scale = power(Value(10), Value(-precision));
  const Value quotient = floor_divide(input, scale);
  const std::int64_t twice_remainder = modulo(input, scale).as_int() * 2;
  const bool round_up =
      twice_remainder > scale.as_int() || (twice_remainder == scale.as_int() && quotient.as_int() % 2 != 0);
  return multiply(round_up ? add(quotient, Value(1)) : quotient, scale);
}

Value filter_safe(const Value& input, const Arguments& arguments) {
  arguments.bind("safe", {});
  return to_str(input);
}

Value filter_sort(const Value& input, const Arguments& arguments) {
  const auto args = arguments.bind("sort", {"reverse", "case_sensitive", "attribute"});
  const bool reverse = is_true(args[0]);
  const bool case_sensitive = is_true(args[1]);
  // Jinja's make_multi_attrgetter: "a,b" sorts by a, then b.
  std::vector<Value> attributes;
  if (args[2] && args[2]->is_string()) {
    for (auto& name : python_split(args[2]->as_string(), ",", -1)) attributes.emplace_back(std::move(name));
  } else {
    attributes.push_back(args[2].value_or(Value()));
  }
  auto items = iterate(input);
  std::vector<std::pair<Value, Value>> keyed;  // (sort key, item)
  for (auto& item : items) {
    std::vector<Value> key;
    for (const auto& attribute : attributes) key.push_back(fold_case(lookup_path(item, attribute), case_sensitive));
    keyed.emplace_back(Value::list(std::move(key)), std::move(item));
  }
  std::stable_sort(keyed.begin(), keyed.end(), [&](const auto& a, const auto& b) {
    return reverse ? python_order(b.first, a.first) < 0 : python_order(a.first, b.first) < 0;
  });
  std::vector<Value> sorted;
  for (auto& entry : keyed) sorted.push_back(std::move(entry.second));
  return Value::list(std::move(sorted));
}

Value filter_string(const Value& input, const Arguments& arguments) {
  arguments.bind("string", {});
  return to_str(input);
}

Value filter_sum(const Value& input, const Arguments& arguments) {
  const auto args = arguments.bind("sum", {"attribute", "start"});
  Value total = args[1].value_or(Value(0));
  if (total.is_string()) throw RenderError("sum() can't sum strings [use ''.join(seq) instead]");
  for (const auto& item : iterate(input)) total = add(total, args[0] ? lookup_path(item, *args[0]) : item);
  return total;
}

// Jinja's title, not Python's: a word starts after whitespace or one of - ( { [ <.
Value filter_title(const Value& input, const Arguments& arguments) {
  arguments.bind("title", {});
  std::string out;
  bool word_start = true;
  const std::string text = to_str(input);
  for (const auto point : code_points(text)) {
    const char32_t c = decode_code_point(point);
    const bool separator = c == '-' || c == '(' || c == '{' || c == '[' || c == '<' || is_python_space(c);
    out += separator ? std::string(point) : word_start ? python_upper(point) : python_lower(point);
    word_start = separator;
  }
  return out;
}

// transformers' tojson: json.dumps(x, ensure_ascii=False, indent=None, separators=None, sort_keys=False).
Value filter_tojson(const Value& input, const Arguments& arguments) {
  const auto args = arguments.bind("tojson", {"ensure_ascii", "indent", "separators", "sort_keys"});
  JsonDumpOptions options;
  options.ensure_ascii = is_true(args[0]);
  if (args[1] && !args[1]->is_none()) {
    options.indent = args[1]->is_string() ? args[1]->as_string() : to_str(multiply(Value(" "), *args[1]));
  }
  if (args[2] && !args[2]->is_none()) {
    const auto separators = iterate(*args[2]);
    if (separators.size() != 2) throw RenderError("separators must be a pair: (item_separator, key_separator)");
    options.separators.emplace(to_str(separators[0]), to_str(separators[1]));
  }
  options.sort_keys = is_true(args[3]);
  return dump_json(input, options);
}

Value filter_trim(const Value& input, const Arguments& arguments) {
  const auto args = arguments.bind("trim", {"chars"});
  if (args[0] && !args[0]->is_none() && !args[0]->is_string()) throw RenderError("strip arg must be None or str");
  const std::string text = to_str(input);
  if (args[0] && args[0]->is_string()) return std::string(python_strip(text, StripSide::Both, args[0]->as_string()));
  return std::string(python_strip(text, StripSide::Both));
}

Value filter_unique(const Value& input, const Arguments& arguments) {
  const auto args = arguments.bind("unique", {"case_sensitive", "attribute"});
  std::vector<Value> seen;
  std::vector<Value> results;
  for (const auto& item : iterate(input)) {
    Value key = fold_case(args[1] ? lookup_path(item, *args[1]) : item, is_true(args[0]));
    require_hashable(key);
    if (std::none_of(seen.begin(), seen.end(), [&](const Value& other) { return equals(other, key); })) {
      seen.push_back(std::move(key));
      results.push_back(item);
    }
  }
  return Value::generator(std::move(results));
}

Value filter_upper(const Value& input, const Arguments& arguments) {
  arguments.bind("upper", {});
  return python_upper(to_str(input));
}

Value filter_wordcount(const Value& input, const Arguments& arguments) {
  arguments.bind("wordcount", {});
  std::int64_t words = 0;
  bool in_word = false;
  const std::string text = to_str(input);
  for (const auto point : code_points(text)) {
    const bool word = is_word_character(decode_code_point(point));
    if (word && !in_word) ++words;
    in_word = word;
  }
  return words;
}

const std::map<std::string_view, Filter, std::less<>>& filters() {
  static const std::map<std::string_view, Filter, std::less<>> kFilters = {
      {"abs", filter_abs},
      {"capitalize", filter_capitalize},
      {"count", filter_length},
      {"d", filter_default},
      {"default", filter_default},
      {"dictsort", filter_dictsort},
      {"e", filter_escape},
      {"escape", filter_escape},
      {"first", filter_first},
      {"float", filter_float},
      {"format", filter_format},
      {"indent", filter_indent},
      {"int", filter_int},
      {"items", filter_items},
      {"join", filter_join},
      {"last", filter_last},
      {"length", filter_length},
      {"list", filter_list},
      {"lower", filter_lower},
      {"map", filter_map},
      {"max", filter_max},
      {"min", filter_min},
      {"reject", filter_reject},
      {"rejectattr", filter_rejectattr},
      {"replace", filter_replace},
      {"reverse", filter_reverse},
      {"round", filter_round},
      {"safe", filter_safe},
      {"select", filter_select},
      {"selectattr", filter_selectattr},
      {"sort", filter_sort},
      {"string", filter_string},
      {"sum", filter_sum},
      {"title", filter_title},
      {"tojson", filter_tojson},
      {"trim", filter_trim},
      {"unique", filter_unique},
      {"upper", filter_upper},
      {"wordcount", filter_wordcount},
  };
  return kFilters;
}

}  // namespace

bool has_filter(std::string_view name) { return filters().contains(name); }

std::string_view missing_builtin_note(std::string_view name) {
  static constexpr std::string_view kLeftOut[] = {
      "attr",   "batch", "center",    "escaped", "filesizeformat", "filter",    "forceescape", "groupby",  "pprint",
      "random", "slice", "striptags", "test",    "truncate",       "urlencode", "urlize",      "wordwrap", "xmlattr"};
  const bool left_out = std::find(std::begin(kLeftOut), std::end(kLeftOut), name) != std::end(kLeftOut);
  return left_out ? " (Jinja has it; llmctl does not implement it)" : "";
}

Value apply_filter(std::string_view name, const Value& input, const Arguments& arguments) {
  const auto filter = filters().find(name);
  if (filter == filters().end())
    throw RenderError(fmt::format("No filter named '{}'.{}", name, missing_builtin_note(name)));
  return filter->second(input, arguments);
}

}  // namespace llmctl::engine::jinja
