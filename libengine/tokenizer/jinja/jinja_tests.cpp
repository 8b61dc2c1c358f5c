// Jinja's tests (`value is name(arguments)`), as jinja2/tests.py defines them.
#include "tokenizer/jinja/jinja_builtins.hpp"

#include "tokenizer/jinja/jinja_error.hpp"
#include "tokenizer/jinja/jinja_operators.hpp"
#include "tokenizer/jinja/jinja_text.hpp"

#include <fmt/format.h>

#include <map>

namespace llmctl::engine::jinja {
namespace {

// str.islower()/isupper(): some cased letter, and none of the other case.
bool has_only_case(const Value& input, bool upper) {
  const std::string text = to_str(input);
  bool found = false;
  for (const auto point : code_points(text)) {
    const char32_t c = decode_code_point(point);
    if (upper ? is_lower_case(c) : is_upper_case(c)) return false;
    found = found || (upper ? is_upper_case(c) : is_lower_case(c));
  }
  return found;
}

using Predicate = bool (*)(const Value& input);
using Relation = bool (*)(const Value& input, const Value& other);

const std::map<std::string_view, Predicate, std::less<>> kPredicates = {
    {"odd", [](const Value& v) { return equals(modulo(v, Value(2)), Value(1)); }},
    {"even", [](const Value& v) { return equals(modulo(v, Value(2)), Value(0)); }},
    {"defined", [](const Value& v) { return !v.is_undefined(); }},
    {"undefined", [](const Value& v) { return v.is_undefined(); }},
    {"none", [](const Value& v) { return v.is_none(); }},
    {"boolean", [](const Value& v) { return v.is_boolean(); }},
    {"false", [](const Value& v) { return v.is_boolean() && !v.as_bool(); }},
    {"true", [](const Value& v) { return v.is_boolean() && v.as_bool(); }},
    {"integer", [](const Value& v) { return v.is_integer(); }},
    {"float", [](const Value& v) { return v.is_float(); }},
    {"number", [](const Value& v) { return v.is_number(); }},  // booleans are numbers in Python
    {"string", [](const Value& v) { return v.is_string(); }},
    {"mapping", [](const Value& v) { return v.is_dict(); }},
    {"lower", [](const Value& v) { return has_only_case(v, false); }},
    {"upper", [](const Value& v) { return has_only_case(v, true); }},
    // Has a length and items by index, as Jinja's Undefined has; a generator has neither.
    {"sequence",
     [](const Value& v) { return v.is_undefined() || v.is_string() || v.is_list_or_tuple() || v.is_dict(); }},
    {"iterable",
     [](const Value& v) {
       return v.is_undefined() || v.is_string() || v.is_list_or_tuple() || v.is_dict() ||
              v.kind() == Value::Kind::Generator;
     }},
    {"callable", [](const Value& v) { return v.is_callable() || v.is_undefined(); }},  // Undefined has __call__
};

// Tests with one argument, and that argument's name in Jinja's signature.
const std::map<std::string_view, std::pair<std::string_view, Relation>, std::less<>> kRelations = {
    {"divisibleby", {"num", [](const Value& v, const Value& n) { return equals(modulo(v, n), Value(0)); }}},
    {"sameas", {"other", [](const Value& v, const Value& other) { return v.is_same(other); }}},
    {"in", {"seq", [](const Value& v, const Value& sequence) { return contains(sequence, v); }}},
    {"==", {"b", equals}},
    {"eq", {"b", equals}},
    {"equalto", {"b", equals}},
    {"!=", {"b", [](const Value& a, const Value& b) { return !equals(a, b); }}},
    {"ne", {"b", [](const Value& a, const Value& b) { return !equals(a, b); }}},
    {">", {"b", [](const Value& a, const Value& b) { return python_order(a, b, ">") > 0; }}},
    {"gt", {"b", [](const Value& a, const Value& b) { return python_order(a, b, ">") > 0; }}},
    {"greaterthan", {"b", [](const Value& a, const Value& b) { return python_order(a, b, ">") > 0; }}},
    {">=", {"b", [](const Value& a, const Value& b) { return python_order(a, b, ">=") >= 0; }}},
    {"ge", {"b", [](const Value& a, const Value& b) { return python_order(a, b, ">=") >= 0; }}},
    {"<", {"b", [](const Value& a, const Value& b) { return python_order(a, b, "<") < 0; }}},
    {"lt", {"b", [](const Value& a, const Value& b) { return python_order(a, b, "<") < 0; }}},
    {"lessthan", {"b", [](const Value& a, const Value& b) { return python_order(a, b, "<") < 0; }}},
    {"<=", {"b", [](const Value& a, const Value& b) { return python_order(a, b, "<=") <= 0; }}},
    {"le", {"b", [](const Value& a, const Value& b) { return python_order(a, b, "<=") <= 0; }}},
};

}  // namespace

bool has_test(std::string_view name) { return kPredicates.contains(name) || kRelations.contains(name); }

bool apply_test(std::string_view name, const Value& input, const Arguments& arguments) {
  if (const auto predicate = kPredicates.find(name); predicate != kPredicates.end()) {
    arguments.bind(name, {});
    return predicate->second(input);
  }
  const auto relation = kRelations.find(name);
  if (relation == kRelations.end())
    throw RenderError(fmt::format("No test named '{}'.{}", name, missing_builtin_note(name)));
  const auto [parameter, test] = relation->second;
  const auto bound = arguments.bind(name, {parameter});
  if (!bound[0]) throw RenderError(fmt::format("{}() missing 1 required positional argument: '{}'", name, parameter));
  return test(input, *bound[0]);
}

}  // namespace llmctl::engine::jinja
