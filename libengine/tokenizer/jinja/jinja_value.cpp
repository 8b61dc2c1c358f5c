#include "tokenizer/jinja/jinja_value.hpp"

#include "tokenizer/jinja/jinja_error.hpp"
#include "tokenizer/jinja/jinja_text.hpp"

#include <fmt/format.h>

#include <algorithm>
#include <cmath>

namespace llmctl::engine::jinja {
namespace {

// Python compares an int with a float exactly, not by rounding the int to a double.
std::partial_ordering compare_int_with_double(std::int64_t integer, double floating) {
  if (std::isnan(floating)) return std::partial_ordering::unordered;
  if (floating >= 9223372036854775808.0) return std::partial_ordering::less;
  if (floating < -9223372036854775808.0) return std::partial_ordering::greater;
  const double whole = std::trunc(floating);
  const auto whole_integer = static_cast<std::int64_t>(whole);
  if (integer != whole_integer) return integer <=> whole_integer;
  return 0.0 <=> (floating - whole);
}

std::partial_ordering compare_numbers(const Value& a, const Value& b) {
  if (a.is_float() && b.is_float()) return a.as_double() <=> b.as_double();
  if (a.is_float()) return 0 <=> compare_int_with_double(b.as_int(), a.as_double());
  if (b.is_float()) return compare_int_with_double(a.as_int(), b.as_double());
  return a.as_int() <=> b.as_int();
}

std::string join_reprs(const std::vector<Value>& items) {
  std::string out;
  for (std::size_t i = 0; i < items.size(); ++i) out += (i > 0 ? ", " : "") + repr(items[i]);
  return out;
}

}  // namespace

Value Value::undefined(std::string message) {
  Value value;
  value.kind_ = Kind::Undefined;
  value.data_ = std::move(message);
  return value;
}

Value Value::list(std::vector<Value> items) {
  Value value;
  value.kind_ = Kind::List;
  value.data_ = std::make_shared<const std::vector<Value>>(std::move(items));
  return value;
}

Value Value::tuple(std::vector<Value> items) {
  Value value = list(std::move(items));
  value.kind_ = Kind::Tuple;
  return value;
}

Value Value::dict(Dict dict) {
  Value value;
  value.kind_ = Kind::Dict;
  value.data_ = std::make_shared<const Dict>(std::move(dict));
  return value;
}

Value Value::generator(std::vector<Value> items) {
  Value value;
  value.kind_ = Kind::Generator;
  value.data_ = std::make_shared<Generator>(Generator{std::move(items), 0});
  return value;
}

Value Value::callable(std::string description, std::function<Value(const Arguments&)> function) {
  Value value;
  value.kind_ = Kind::Callable;
  value.data_ = std::make_shared<const Callable>(Callable{std::move(description), std::move(function)});
  return value;
}

Value Value::object(std::shared_ptr<Object> object) {
  Value value;
  value.kind_ = Kind::Object;
  value.data_ = std::move(object);
  return value;
}

std::int64_t Value::as_int() const {
  return is_boolean() ? static_cast<std::int64_t>(as_bool()) : std::get<std::int64_t>(data_);
}

double Value::as_double() const { return is_float() ? std::get<double>(data_) : static_cast<double>(as_int()); }

void Value::require_defined() const {
  if (is_undefined()) throw RenderError(undefined_message());
}

bool Value::is_same(const Value& other) const {
  if (kind_ != other.kind_) return false;
  switch (kind_) {
    case Kind::List:
    case Kind::Tuple:
    case Kind::Dict:
    case Kind::Generator:
    case Kind::Callable:
    case Kind::Object:
      return data_ == other.data_;
    default:
      return equals(*this, other);
  }
}

const Value* Dict::find(const Value& key) const {
  for (const auto& [existing, value] : entries_)
    if (equals(existing, key)) return &value;
  return nullptr;
}

void Dict::set(Value key, Value value) {
  for (auto& [existing, old_value] : entries_) {
    if (equals(existing, key)) {
      old_value = std::move(value);
      return;
    }
  }
  entries_.emplace_back(std::move(key), std::move(value));
}

std::vector<std::optional<Value>> Arguments::bind(std::string_view function,
                                                  std::initializer_list<std::string_view> parameters) const {
  if (positional.size() > parameters.size())
    throw RenderError(
        fmt::format("{}() takes at most {} arguments ({} given)", function, parameters.size(), positional.size()));
  std::vector<std::optional<Value>> bound(positional.begin(), positional.end());
  bound.resize(parameters.size());
  for (const auto& [name, value] : keyword) {
    const auto parameter = std::find(parameters.begin(), parameters.end(), name);
    if (parameter == parameters.end())
      throw RenderError(fmt::format("{}() got an unexpected keyword argument '{}'", function, name));
    auto& slot = bound[static_cast<std::size_t>(parameter - parameters.begin())];
    if (slot) throw RenderError(fmt::format("{}() got multiple values for argument '{}'", function, name));
    slot = value;
  }
  return bound;
}

std::string type_name(const Value& value) {
  switch (value.kind()) {
    case Value::Kind::Undefined:
      return "Undefined";
    case Value::Kind::None:
      return "NoneType";
    case Value::Kind::Boolean:
      return "bool";
    case Value::Kind::Integer:
      return "int";
    case Value::Kind::Float:
      return "float";
    case Value::Kind::String:
      return "str";
    case Value::Kind::List:
      return "list";
    case Value::Kind::Tuple:
      return "tuple";
    case Value::Kind::Dict:
      return "dict";
    case Value::Kind::Generator:
      return "generator";
    case Value::Kind::Callable:
      return "function";
    case Value::Kind::Object:
      return value.as_object().type_name();
  }
  return "object";
}

std::string to_str(const Value& value) {
  switch (value.kind()) {
    case Value::Kind::Undefined:
      return "";
    case Value::Kind::None:
      return "None";
    case Value::Kind::Boolean:
      return value.as_bool() ? "True" : "False";
    case Value::Kind::Integer:
      return std::to_string(value.as_int());
    case Value::Kind::Float:
      return python_float_repr(value.as_double());
    case Value::Kind::String:
      return value.as_string();
    case Value::Kind::Generator:
      return "<generator object>";
    case Value::Kind::Callable:
      return value.as_callable().description;
    case Value::Kind::Object:
      return value.as_object().repr();
    default:
      return repr(value);
  }
}

std::string repr(const Value& value) {
  switch (value.kind()) {
    case Value::Kind::Undefined:
      return "Undefined";
    case Value::Kind::String:
      return python_string_repr(value.as_string());
    case Value::Kind::List:
      return "[" + join_reprs(value.items()) + "]";
    case Value::Kind::Tuple:
      return "(" + join_reprs(value.items()) + (value.items().size() == 1 ? ",)" : ")");
    case Value::Kind::Dict: {
      std::string out = "{";
      for (const auto& [key, item] : value.as_dict().entries())
        out += (out.size() > 1 ? ", " : "") + repr(key) + ": " + repr(item);
      return out + "}";
    }
    default:
      return to_str(value);
  }
}

bool truthy(const Value& value) {
  switch (value.kind()) {
    case Value::Kind::Undefined:
    case Value::Kind::None:
      return false;
    case Value::Kind::Boolean:
      return value.as_bool();
    case Value::Kind::Integer:
      return value.as_int() != 0;
    case Value::Kind::Float:
      return value.as_double() != 0.0;
    case Value::Kind::String:
      return !value.as_string().empty();
    case Value::Kind::List:
    case Value::Kind::Tuple:
      return !value.items().empty();
    case Value::Kind::Dict:
      return value.as_dict().size() > 0;
    default:
      return true;
  }
}

bool equals(const Value& a, const Value& b) {
  if (a.is_number() && b.is_number()) return compare_numbers(a, b) == std::partial_ordering::equivalent;
  if (a.kind() != b.kind()) return false;
  switch (a.kind()) {
    case Value::Kind::Undefined:
    case Value::Kind::None:
      return true;
    case Value::Kind::String:
      return a.as_string() == b.as_string();
    case Value::Kind::List:
    case Value::Kind::Tuple: {
      const auto& left = a.items();
      const auto& right = b.items();
      if (left.size() != right.size()) return false;
      for (std::size_t i = 0; i < left.size(); ++i)
        if (!equals(left[i], right[i])) return false;
      return true;
    }
    case Value::Kind::Dict: {
      if (a.as_dict().size() != b.as_dict().size()) return false;
      for (const auto& [key, value] : a.as_dict().entries()) {
        const Value* other = b.as_dict().find(key);
        if (other == nullptr || !equals(value, *other)) return false;
      }
      return true;
    }
    default:
      return a.is_same(b);
  }
}

std::partial_ordering python_order(const Value& a, const Value& b, std::string_view operator_text) {
  a.require_defined();
  b.require_defined();
  if (a.is_number() && b.is_number()) return compare_numbers(a, b);
  if (a.is_string() && b.is_string()) return a.as_string() <=> b.as_string();  // UTF-8 keeps code point order
  if (a.is_list_or_tuple() && a.kind() == b.kind()) {
    // The first items that differ decide; otherwise the shorter sequence is smaller.
    const auto& left = a.items();
    const auto& right = b.items();
    for (std::size_t i = 0; i < left.size() && i < right.size(); ++i)
      if (!equals(left[i], right[i])) return python_order(left[i], right[i], operator_text);
    return left.size() <=> right.size();
  }
  throw RenderError(
      fmt::format("'{}' not supported between instances of '{}' and '{}'", operator_text, type_name(a), type_name(b)));
}

std::int64_t length(const Value& value) {
  switch (value.kind()) {
    case Value::Kind::Undefined:
      return 0;
    case Value::Kind::String:
      return static_cast<std::int64_t>(code_point_count(value.as_string()));
    case Value::Kind::List:
    case Value::Kind::Tuple:
      return static_cast<std::int64_t>(value.items().size());
    case Value::Kind::Dict:
      return static_cast<std::int64_t>(value.as_dict().size());
    default:
      throw RenderError(fmt::format("object of type '{}' has no len()", type_name(value)));
  }
}

std::vector<Value> iterate(const Value& value) {
  switch (value.kind()) {
    case Value::Kind::Undefined:
      return {};
    case Value::Kind::String: {
      std::vector<Value> characters;
      for (const auto point : code_points(value.as_string())) characters.emplace_back(std::string(point));
      return characters;
    }
    case Value::Kind::List:
    case Value::Kind::Tuple:
      return value.items();
    case Value::Kind::Dict: {
      std::vector<Value> keys;
      for (const auto& entry : value.as_dict().entries()) keys.push_back(entry.first);
      return keys;
    }
    case Value::Kind::Generator: {
      auto& generator = value.as_generator();
      std::vector<Value> rest(generator.items.begin() + static_cast<std::ptrdiff_t>(generator.next),
                              generator.items.end());
      generator.next = generator.items.size();
      return rest;
    }
    default:
      throw RenderError(fmt::format("'{}' object is not iterable", type_name(value)));
  }
}

void require_hashable(const Value& value) {
  if (value.kind() == Value::Kind::List || value.is_dict())
    throw RenderError(fmt::format("unhashable type: '{}'", type_name(value)));
  if (value.kind() == Value::Kind::Tuple)
    for (const auto& item : value.items()) require_hashable(item);
}

std::int64_t to_index(const Value& value) {
  value.require_defined();
  if (!value.is_boolean() && !value.is_integer())
    throw RenderError(fmt::format("'{}' object cannot be interpreted as an integer", type_name(value)));
  return value.as_int();
}

}  // namespace llmctl::engine::jinja
