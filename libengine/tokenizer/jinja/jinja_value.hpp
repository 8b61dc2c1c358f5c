#pragma once

#include <compare>
#include <concepts>
#include <cstdint>
#include <functional>
#include <initializer_list>
#include <memory>
#include <optional>
#include <string>
#include <string_view>
#include <utility>
#include <variant>
#include <vector>

namespace llmctl::engine::jinja {

class Dict;
class Object;
struct Arguments;
struct Callable;
struct Generator;

template <typename T>
concept NonBoolIntegral = std::integral<T> && !std::same_as<T, bool>;

// A template value: one of the Python objects that Jinja templates work with. Lists and dicts are
// shared and never change (the sandbox forbids mutating them); copying a Value is cheap for them.
class Value {
 public:
  enum class Kind { Undefined, None, Boolean, Integer, Float, String, List, Tuple, Dict, Generator, Callable, Object };

  Value() = default;  // None
  Value(bool value) : kind_(Kind::Boolean), data_(value) {}
  template <NonBoolIntegral T>
  Value(T value) : kind_(Kind::Integer), data_(static_cast<std::int64_t>(value)) {}
  Value(double value) : kind_(Kind::Float), data_(value) {}
  Value(std::string value) : kind_(Kind::String), data_(std::move(value)) {}
  Value(const char* value) : Value(std::string(value)) {}

  // What a missing variable, key or attribute evaluates to. It prints as "" and iterates as nothing;
  // most other uses fail with `message`, as Jinja's Undefined does.
  static Value undefined(std::string message);
  static Value list(std::vector<Value> items);
  static Value tuple(std::vector<Value> items);
  static Value dict(Dict dict);
  static Value generator(std::vector<Value> items);
  static Value callable(std::string description, std::function<Value(const Arguments&)> function);
  static Value object(std::shared_ptr<Object> object);

  Kind kind() const { return kind_; }
  bool is_undefined() const { return kind_ == Kind::Undefined; }
  bool is_none() const { return kind_ == Kind::None; }
  bool is_boolean() const { return kind_ == Kind::Boolean; }
  bool is_integer() const { return kind_ == Kind::Integer; }
  bool is_float() const { return kind_ == Kind::Float; }
  bool is_number() const { return is_boolean() || is_integer() || is_float(); }  // Python's bool is an int
  bool is_string() const { return kind_ == Kind::String; }
  bool is_list_or_tuple() const { return kind_ == Kind::List || kind_ == Kind::Tuple; }
  bool is_dict() const { return kind_ == Kind::Dict; }
  bool is_callable() const { return kind_ == Kind::Callable; }
  bool is_object() const { return kind_ == Kind::Object; }

  bool as_bool() const { return std::get<bool>(data_); }
  std::int64_t as_int() const;  // a Boolean or Integer
  double as_double() const;     // any number
  const std::string& as_string() const { return std::get<std::string>(data_); }
  const std::string& undefined_message() const { return std::get<std::string>(data_); }
  const std::vector<Value>& items() const { return *std::get<std::shared_ptr<const std::vector<Value>>>(data_); }
  const Dict& as_dict() const { return *std::get<std::shared_ptr<const Dict>>(data_); }
  Generator& as_generator() const { return *std::get<std::shared_ptr<Generator>>(data_); }
  const Callable& as_callable() const { return *std::get<std::shared_ptr<const Callable>>(data_); }
  Object& as_object() const { return *std::get<std::shared_ptr<Object>>(data_); }

  // Throws the error that using an undefined value raises ("'x' is undefined"); nothing otherwise.
  void require_defined() const;
  // Python's `is`: the same list, dict or object; equal scalars count as the same.
  bool is_same(const Value& other) const;

 private:
  Kind kind_ = Kind::None;
  // Undefined keeps its message in the string; List and Tuple share the vector.
  std::variant<std::monostate, bool, std::int64_t, double, std::string, std::shared_ptr<const std::vector<Value>>,
               std::shared_ptr<const Dict>, std::shared_ptr<Generator>, std::shared_ptr<const Callable>,
               std::shared_ptr<Object>>
      data_;
};

// A Python dict: insertion order, keys compared with Python's == (so 1, 1.0 and True are one key).
class Dict {
 public:
  const Value* find(const Value& key) const;
  void set(Value key, Value value);  // replaces the value of an existing key in place
  const std::vector<std::pair<Value, Value>>& entries() const { return entries_; }
  std::size_t size() const { return entries_.size(); }

 private:
  std::vector<std::pair<Value, Value>> entries_;
};

struct Arguments {
  std::vector<Value> positional;
  std::vector<std::pair<std::string, Value>> keyword;

  // The arguments matched to `parameters` by position, then by keyword, as Python binds a call;
  // nullopt where one was not given. Extra or unknown arguments throw RenderError naming `function`.
  std::vector<std::optional<Value>> bind(std::string_view function,
                                         std::initializer_list<std::string_view> parameters) const;
};

// A function, macro or bound method.
struct Callable {
  std::string description;  // what str() gives: "<Macro 'name'>"
  std::function<Value(const Arguments&)> function;
};

// What map, select, reverse and items return in Python: a generator, which is always true, has no
// length and can be iterated only once.
struct Generator {
  std::vector<Value> items;
  std::size_t next = 0;
};

// Objects with attributes rather than keys: namespace() and the loop variable.
class Object {
 public:
  virtual ~Object() = default;
  virtual std::string type_name() const = 0;
  virtual std::optional<Value> attribute(const std::string& name) = 0;  // nullopt: no such attribute
  virtual std::string repr() const = 0;
};

// Python's builtins applied to values; type errors throw RenderError with Python's message.
std::string type_name(const Value& value);  // type(x).__name__: "int", "str", "NoneType", ...
std::string to_str(const Value& value);     // str(x): what {{ x }} prints
std::string repr(const Value& value);       // repr(x)
bool truthy(const Value& value);            // bool(x)
bool equals(const Value& a, const Value& b);
// How `a` orders against `b` for <, <=, > and >= (`operator_text` names the operator in errors).
std::partial_ordering python_order(const Value& a, const Value& b, std::string_view operator_text = "<");
std::int64_t length(const Value& value);         // len(x)
std::vector<Value> iterate(const Value& value);  // list(x): a dict gives its keys; a generator is used up
void require_hashable(const Value& value);       // lists and dicts cannot be dict keys or set members
std::int64_t to_index(const Value& value);       // operator.index(x): an int or a bool, else an error

}  // namespace llmctl::engine::jinja
