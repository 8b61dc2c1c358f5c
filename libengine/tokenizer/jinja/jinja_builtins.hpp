#pragma once

#include "tokenizer/jinja/jinja_value.hpp"

#include <string>
#include <string_view>
#include <utility>
#include <vector>

// What templates can call by name: Jinja's filters (jinja_filters.cpp) and tests (jinja_tests.cpp),
// Python's methods on str, dict and list (jinja_methods.cpp), and the global functions of Hugging
// Face's environment (jinja_globals.cpp). Errors throw RenderError with the message Python gives.
namespace llmctl::engine::jinja {

bool has_filter(std::string_view name);
// `input | name(arguments)`; an unknown name fails with "No filter named 'name'.".
Value apply_filter(std::string_view name, const Value& input, const Arguments& arguments);

bool has_test(std::string_view name);

// What follows Jinja's "No filter named 'x'." for the filters and tests of Jinja that llmctl leaves
// out (groupby, truncate, ...), so that the message does not suggest a broken template; "" otherwise.
std::string_view missing_builtin_note(std::string_view name);
// `input is name(arguments)`; an unknown name fails with "No test named 'name'.".
bool apply_test(std::string_view name, const Value& input, const Arguments& arguments);

// object.name as Jinja's sandbox resolves it: a method or attribute first, then object["name"].
// Methods that would change a list or dict give an Undefined that refuses to be called.
Value get_attribute(const Value& object, const std::string& name);
// object[key]: the item, else for a string key the method or attribute of that name, else Undefined.
Value get_item(const Value& object, const Value& key);

// range, dict, namespace, raise_exception and strftime_now.
std::vector<std::pair<std::string, Value>> global_functions();

// What namespace() makes: the one object a template can change, with {% set ns.name = value %}.
class Namespace : public Object {
 public:
  explicit Namespace(Dict attributes) : attributes_(std::move(attributes)) {}
  std::string type_name() const override { return "Namespace"; }
  std::optional<Value> attribute(const std::string& name) override;
  std::string repr() const override;
  void set_attribute(const std::string& name, Value value) { attributes_.set(name, std::move(value)); }

 private:
  Dict attributes_;
};

}  // namespace llmctl::engine::jinja
