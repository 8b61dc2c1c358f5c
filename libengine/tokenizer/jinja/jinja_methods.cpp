// Attribute and item access as Jinja's immutable sandbox does it, and the Python methods of str,
// dict and list that templates call.
#include "tokenizer/jinja/jinja_builtins.hpp"

#include "tokenizer/jinja/jinja_error.hpp"
#include "tokenizer/jinja/jinja_operators.hpp"
#include "tokenizer/jinja/jinja_text.hpp"

#include <fmt/format.h>

#include <algorithm>
#include <charconv>
#include <cstdint>
#include <map>
#include <set>

namespace llmctl::engine::jinja {
namespace {

// How Jinja's messages name an object's type ("dict object"; None is just "None").
std::string object_description(const Value& object) {
  return object.is_none() ? "None" : type_name(object) + " object";
}

Value missing_attribute(const Value& object, const std::string& name) {
  return Value::undefined(fmt::format("'{}' has no attribute '{}'", object_description(object), name));
}

// The sandbox refuses methods that change a list or dict: using one fails with this message.
Value unsafe_method(const Value& object, const std::string& name) {
  return Value::undefined(fmt::format("access to attribute '{}' of '{}' object is unsafe.", name, type_name(object)));
}

std::string string_argument(const Value& value, std::string_view message) {
  if (!value.is_string()) throw RenderError(fmt::format("{}, not {}", message, type_name(value)));
  return value.as_string();
}

// text[start:end] by code points, as the optional start and end of find() and friends select it, and
// the index where that part starts; nullopt when start is past end, where not even "" is found.
std::optional<std::pair<std::string, std::int64_t>> code_point_range(const std::string& text,
                                                                     const std::optional<Value>& start,
                                                                     const std::optional<Value>& end) {
  const auto points = code_points(text);
  const auto size = static_cast<std::int64_t>(points.size());
  const auto adjust = [&](const std::optional<Value>& bound, std::int64_t fallback) {
    if (!bound || bound->is_none()) return fallback;
    const std::int64_t index = to_index(*bound);
    return index < 0 ? std::max<std::int64_t>(index + size, 0) : index;
  };
  const std::int64_t first = adjust(start, 0);
  const std::int64_t last = std::min(adjust(end, size), size);
  if (first > last) return std::nullopt;
  std::string part;
  for (std::int64_t i = first; i < last; ++i) part += points[static_cast<std::size_t>(i)];
  return std::pair{std::move(part), first};
}

// --- str methods ---

Value strip_method(const std::string& self, const Arguments& arguments, StripSide side, std::string_view name) {
  const auto args = arguments.bind(name, {"chars"});
  if (!args[0] || args[0]->is_none()) return std::string(python_strip(self, side));
  return std::string(python_strip(self, side, string_argument(*args[0], "strip arg must be None or str")));
}
Value str_strip(const std::string& self, const Arguments& arguments) {
  return strip_method(self, arguments, StripSide::Both, "strip");
}
Value str_lstrip(const std::string& self, const Arguments& arguments) {
  return strip_method(self, arguments, StripSide::Left, "lstrip");
}
Value str_rstrip(const std::string& self, const Arguments& arguments) {
  return strip_method(self, arguments, StripSide::Right, "rstrip");
}

Value split_method(const std::string& self, const Arguments& arguments, bool from_right) {
  const auto args = arguments.bind(from_right ? "rsplit" : "split", {"sep", "maxsplit"});
  std::optional<std::string> separator;
  if (args[0] && !args[0]->is_none()) separator = string_argument(*args[0], "must be str or None");
  const std::int64_t max_split = args[1] ? to_index(*args[1]) : -1;
  const auto parts = from_right ? python_rsplit(self, separator, max_split) : python_split(self, separator, max_split);
  return Value::list(std::vector<Value>(parts.begin(), parts.end()));
}
Value str_split(const std::string& self, const Arguments& arguments) { return split_method(self, arguments, false); }
Value str_rsplit(const std::string& self, const Arguments& arguments) { return split_method(self, arguments, true); }

Value str_splitlines(const std::string& self, const Arguments& arguments) {
  arguments.bind("splitlines", {});
  std::vector<Value> lines;
  for (const auto line : python_splitlines(self)) lines.emplace_back(std::string(line));
  return Value::list(std::move(lines));
}

Value affix_method(const std::string& self, const Arguments& arguments, bool prefix) {
  const std::string_view name = prefix ? "startswith" : "endswith";
  const auto args = arguments.bind(name, {prefix ? "prefix" : "suffix", "start", "end"});
  if (!args[0]) throw RenderError(fmt::format("{}() takes at least 1 argument (0 given)", name));
  const auto range = code_point_range(self, args[1], args[2]);
  std::vector<Value> candidates =
      args[0]->kind() == Value::Kind::Tuple ? args[0]->items() : std::vector<Value>{*args[0]};
  return std::any_of(candidates.begin(), candidates.end(), [&](const Value& candidate) {
    const std::string affix =
        string_argument(candidate, fmt::format("{} first arg must be str or a tuple of str", name));
    return range && (prefix ? range->first.starts_with(affix) : range->first.ends_with(affix));
  });
}
Value str_startswith(const std::string& self, const Arguments& arguments) {
  return affix_method(self, arguments, true);
}
Value str_endswith(const std::string& self, const Arguments& arguments) { return affix_method(self, arguments, false); }

Value str_upper(const std::string& self, const Arguments& arguments) {
  arguments.bind("upper", {});
  return python_upper(self);
}
Value str_lower(const std::string& self, const Arguments& arguments) {
  arguments.bind("lower", {});
  return python_lower(self);
}
// Python's title(): a letter after a letter is lowercase, any other letter uppercase ("They'Re").
Value str_title(const std::string& self, const Arguments& arguments) {
  arguments.bind("title", {});
  std::string out;
  bool after_letter = false;
  for (const auto point : code_points(self)) {
    const char32_t c = decode_code_point(point);
    out += after_letter ? python_lower(point) : python_upper(point);
    after_letter = is_upper_case(c) || is_lower_case(c);
  }
  return out;
}
Value str_capitalize(const std::string& self, const Arguments& arguments) {
  arguments.bind("capitalize", {});
  return python_capitalize(self);
}

Value str_replace(const std::string& self, const Arguments& arguments) {
  const auto args = arguments.bind("replace", {"old", "new", "count"});
  if (!args[0] || !args[1]) throw RenderError("replace expected at least 2 arguments");
  const std::string old = string_argument(*args[0], "replace() argument 1 must be str");
  const std::string replacement = string_argument(*args[1], "replace() argument 2 must be str");
  return python_replace(self, old, replacement, args[2] ? to_index(*args[2]) : -1);
}

// find, rfind, index, rindex: the code point index of `sub` in self[start:end].
Value search_method(const std::string& self, const Arguments& arguments, std::string_view name, bool from_right,
                    bool required) {
  const auto args = arguments.bind(name, {"sub", "start", "end"});
  if (!args[0]) throw RenderError(fmt::format("{}() takes at least 1 argument (0 given)", name));
  const std::string sub = string_argument(*args[0], "must be str");
  const auto range = code_point_range(self, args[1], args[2]);
  const std::size_t found = !range ? std::string::npos : from_right ? range->first.rfind(sub) : range->first.find(sub);
  if (found == std::string::npos) {
    if (required) throw RenderError("substring not found");
    return -1;
  }
  return range->second + static_cast<std::int64_t>(code_point_count(std::string_view(range->first).substr(0, found)));
}
Value str_find(const std::string& self, const Arguments& arguments) {
  return search_method(self, arguments, "find", false, false);
}
Value str_rfind(const std::string& self, const Arguments& arguments) {
  return search_method(self, arguments, "rfind", true, false);
}
Value str_index(const std::string& self, const Arguments& arguments) {
  return search_method(self, arguments, "index", false, true);
}
Value str_rindex(const std::string& self, const Arguments& arguments) {
  return search_method(self, arguments, "rindex", true, true);
}

Value str_count(const std::string& self, const Arguments& arguments) {
  const auto args = arguments.bind("count", {"sub", "start", "end"});
  if (!args[0]) throw RenderError("count() takes at least 1 argument (0 given)");
  const std::string sub = string_argument(*args[0], "must be str");
  const auto range = code_point_range(self, args[1], args[2]);
  if (!range) return 0;
  const std::string& part = range->first;
  if (sub.empty()) return static_cast<std::int64_t>(code_point_count(part)) + 1;
  std::int64_t count = 0;
  for (std::size_t at = part.find(sub); at != std::string::npos; at = part.find(sub, at + sub.size())) ++count;
  return count;
}

Value str_join(const std::string& self, const Arguments& arguments) {
  const auto args = arguments.bind("join", {"iterable"});
  if (!args[0]) throw RenderError("join() takes exactly one argument (0 given)");
  std::string out;
  const auto items = iterate(*args[0]);
  for (std::size_t i = 0; i < items.size(); ++i) {
    if (!items[i].is_string())
      throw RenderError(fmt::format("sequence item {}: expected str instance, {} found", i, type_name(items[i])));
    out += (i > 0 ? self : "") + items[i].as_string();
  }
  return out;
}

// str.format with {} {0} {name} fields, !r and !s; format specifications are not supported.
Value str_format(const std::string& self, const Arguments& arguments) {
  std::string out;
  std::size_t next_index = 0;
  bool numbered = false;
  bool automatic = false;
  for (std::size_t i = 0; i < self.size(); ++i) {
    const char c = self[i];
    if ((c == '{' || c == '}') && i + 1 < self.size() && self[i + 1] == c) {
      out += c;
      ++i;
      continue;
    }
    if (c == '}') throw RenderError("Single '}' encountered in format string");
    if (c != '{') {
      out += c;
      continue;
    }
    const std::size_t close = self.find('}', i);
    if (close == std::string::npos) throw RenderError("Single '{' encountered in format string");
    std::string field = self.substr(i + 1, close - i - 1);
    i = close;
    if (field.find(':') != std::string::npos)
      throw RenderError("format specifications in str.format() are not supported");
    char conversion = 's';
    if (const std::size_t bang = field.find('!'); bang != std::string::npos) {
      conversion = bang + 1 < field.size() ? field[bang + 1] : '\0';
      if (conversion != 's' && conversion != 'r') throw RenderError("Unknown conversion specifier");
      field.resize(bang);
    }
    const Value* value = nullptr;
    const bool is_number =
        !field.empty() && std::all_of(field.begin(), field.end(), [](char d) { return d >= '0' && d <= '9'; });
    if (field.empty() || is_number) {
      (field.empty() ? automatic : numbered) = true;
      if (automatic && numbered)
        throw RenderError("cannot switch from manual field specification to automatic field numbering");
      std::size_t index = next_index;
      if (field.empty())
        ++next_index;
      else if (std::from_chars(field.data(), field.data() + field.size(), index).ec != std::errc{})
        index = SIZE_MAX;
      if (index >= arguments.positional.size())
        throw RenderError("tuple index out of range");  // the sandbox's formatter indexes the tuple itself
      value = &arguments.positional[index];
    } else {
      for (const auto& [name, keyword_value] : arguments.keyword)
        if (name == field) value = &keyword_value;
      if (value == nullptr) throw RenderError(fmt::format("'{}'", field));
    }
    out += conversion == 'r' ? repr(*value) : to_str(*value);
  }
  return out;
}

// str.isdigit() and friends, by Unicode category; like Python, false for "".
template <bool (*Accept)(char32_t)>
Value character_class_method(const std::string& self, const Arguments& arguments, std::string_view name) {
  arguments.bind(name, {});
  const auto points = code_points(self);
  return !points.empty() && std::all_of(points.begin(), points.end(),
                                        [](std::string_view point) { return Accept(decode_code_point(point)); });
}
bool is_letter_or_digit(char32_t c) { return is_decimal_digit(c) || is_letter(c); }
Value str_isdigit(const std::string& self, const Arguments& arguments) {
  return character_class_method<is_decimal_digit>(self, arguments, "isdigit");
}
Value str_isalpha(const std::string& self, const Arguments& arguments) {
  return character_class_method<is_letter>(self, arguments, "isalpha");
}
Value str_isalnum(const std::string& self, const Arguments& arguments) {
  return character_class_method<is_letter_or_digit>(self, arguments, "isalnum");
}
Value str_isspace(const std::string& self, const Arguments& arguments) {
  return character_class_method<is_python_space>(self, arguments, "isspace");
}
Value str_islower(const std::string& self, const Arguments& arguments) {
  arguments.bind("islower", {});
  return apply_test("lower", self, {});
}
Value str_isupper(const std::string& self, const Arguments& arguments) {
  arguments.bind("isupper", {});
  return apply_test("upper", self, {});
}

using StringMethod = Value (*)(const std::string& self, const Arguments& arguments);
const std::map<std::string_view, StringMethod, std::less<>> kStringMethods = {
    {"capitalize", str_capitalize},
    {"count", str_count},
    {"endswith", str_endswith},
    {"find", str_find},
    {"format", str_format},
    {"index", str_index},
    {"isalnum", str_isalnum},
    {"isalpha", str_isalpha},
    {"isdigit", str_isdigit},
    {"islower", str_islower},
    {"isspace", str_isspace},
    {"isupper", str_isupper},
    {"join", str_join},
    {"lower", str_lower},
    {"lstrip", str_lstrip},
    {"replace", str_replace},
    {"rfind", str_rfind},
    {"rindex", str_rindex},
    {"rsplit", str_rsplit},
    {"rstrip", str_rstrip},
    {"split", str_split},
    {"splitlines", str_splitlines},
    {"startswith", str_startswith},
    {"strip", str_strip},
    {"title", str_title},
    {"upper", str_upper},
};

// --- dict and list methods ---

Value dict_items(const Value& self, const Arguments& arguments) {
  arguments.bind("items", {});
  std::vector<Value> pairs;
  for (const auto& [key, value] : self.as_dict().entries()) pairs.push_back(Value::tuple({key, value}));
  return Value::list(std::move(pairs));
}
Value dict_keys(const Value& self, const Arguments& arguments) {
  arguments.bind("keys", {});
  return Value::list(iterate(self));
}
Value dict_values(const Value& self, const Arguments& arguments) {
  arguments.bind("values", {});
  std::vector<Value> values;
  for (const auto& entry : self.as_dict().entries()) values.push_back(entry.second);
  return Value::list(std::move(values));
}
Value dict_get(const Value& self, const Arguments& arguments) {
  const auto args = arguments.bind("get", {"key", "default"});
  if (!args[0]) throw RenderError("get expected at least 1 argument, got 0");
  require_hashable(*args[0]);
  const Value* found = self.as_dict().find(*args[0]);
  return found != nullptr ? *found : args[1].value_or(Value());
}

Value sequence_index(const Value& self, const Arguments& arguments) {
  const auto args = arguments.bind("index", {"value"});
  if (!args[0]) throw RenderError("index expected at least 1 argument, got 0");
  const auto& items = self.items();
  for (std::size_t i = 0; i < items.size(); ++i)
    if (equals(items[i], *args[0])) return i;
  throw RenderError(fmt::format("{} is not in {}", repr(*args[0]), type_name(self)));
}
Value sequence_count(const Value& self, const Arguments& arguments) {
  const auto args = arguments.bind("count", {"value"});
  if (!args[0]) throw RenderError("count() takes exactly one argument (0 given)");
  return std::count_if(self.items().begin(), self.items().end(),
                       [&](const Value& item) { return equals(item, *args[0]); });
}

using ValueMethod = Value (*)(const Value& self, const Arguments& arguments);
const std::map<std::string_view, ValueMethod, std::less<>> kDictMethods = {
    {"items", dict_items}, {"keys", dict_keys}, {"values", dict_values}, {"get", dict_get}};
const std::map<std::string_view, ValueMethod, std::less<>> kSequenceMethods = {{"index", sequence_index},
                                                                               {"count", sequence_count}};
const std::set<std::string_view, std::less<>> kMutatingDictMethods = {"clear", "pop", "popitem", "setdefault",
                                                                      "update"};
const std::set<std::string_view, std::less<>> kMutatingListMethods = {"append", "clear",  "extend",  "insert",
                                                                      "pop",    "remove", "reverse", "sort"};

template <typename Self, typename Method>
Value bound_method(const std::string& name, const Value& object, Self self, Method method) {
  return Value::callable(
      fmt::format("<built-in method {} of {} object>", name, type_name(object)),
      [self = std::move(self), method](const Arguments& arguments) { return method(self, arguments); });
}

// What Python's getattr() finds on an object: methods, and the attributes of namespace and loop.
std::optional<Value> python_attribute(const Value& object, const std::string& name) {
  switch (object.kind()) {
    case Value::Kind::String:
      if (const auto method = kStringMethods.find(name); method != kStringMethods.end())
        return bound_method(name, object, object.as_string(), method->second);
      return std::nullopt;
    case Value::Kind::Dict:
      if (const auto method = kDictMethods.find(name); method != kDictMethods.end())
        return bound_method(name, object, object, method->second);
      if (kMutatingDictMethods.contains(name)) return unsafe_method(object, name);
      return std::nullopt;
    case Value::Kind::List:
    case Value::Kind::Tuple:
      if (const auto method = kSequenceMethods.find(name); method != kSequenceMethods.end())
        return bound_method(name, object, object, method->second);
      if (object.kind() == Value::Kind::List && kMutatingListMethods.contains(name)) return unsafe_method(object, name);
      return std::nullopt;
    case Value::Kind::Object:
      return object.as_object().attribute(name);
    default:
      return std::nullopt;
  }
}

}  // namespace

Value get_attribute(const Value& object, const std::string& name) {
  object.require_defined();
  if (auto attribute = python_attribute(object, name)) return std::move(*attribute);
  if (object.is_dict())
    if (const Value* item = object.as_dict().find(name)) return *item;
  return missing_attribute(object, name);
}

Value get_item(const Value& object, const Value& key) {
  object.require_defined();
  const bool integral_key = key.is_integer() || key.is_boolean();
  if (object.is_list_or_tuple() && integral_key) {
    const auto size = static_cast<std::int64_t>(object.items().size());
    const std::int64_t index = key.as_int() < 0 ? key.as_int() + size : key.as_int();
    if (index >= 0 && index < size) return object.items()[static_cast<std::size_t>(index)];
  } else if (object.is_string() && integral_key) {
    const auto points = code_points(object.as_string());
    const auto size = static_cast<std::int64_t>(points.size());
    const std::int64_t index = key.as_int() < 0 ? key.as_int() + size : key.as_int();
    if (index >= 0 && index < size) return std::string(points[static_cast<std::size_t>(index)]);
  } else if (object.is_dict()) {
    if (const Value* item = object.as_dict().find(key)) return *item;
  }
  // Jinja's sandbox falls back to the attribute of that name, so d["items"] can be a method.
  if (key.is_string()) {
    if (auto attribute = python_attribute(object, key.as_string())) return std::move(*attribute);
    return missing_attribute(object, key.as_string());
  }
  return Value::undefined(fmt::format("{} has no element {}", object_description(object), repr(key)));
}

}  // namespace llmctl::engine::jinja
