#pragma once

#include "tokenizer/jinja/jinja_value.hpp"

#include <string>
#include <string_view>

// Python's operators on template values. Using an undefined operand fails with its message; type
// errors throw RenderError with Python's message. Integers are 64-bit: an overflow is an error.
namespace llmctl::engine::jinja {

Value add(const Value& a, const Value& b);  // numbers, and str, list or tuple concatenation
Value subtract(const Value& a, const Value& b);
Value multiply(const Value& a, const Value& b);  // numbers, and a str, list or tuple repeated
Value divide(const Value& a, const Value& b);    // always a float
Value floor_divide(const Value& a, const Value& b);
Value modulo(const Value& a, const Value& b);  // numbers, and "format" % arguments
Value power(const Value& a, const Value& b);
Value negate(const Value& value);
Value unary_plus(const Value& value);

// `item in container`: a substring, a list item or a dict key.
bool contains(const Value& container, const Value& item);

// sequence[start:stop:step] on a str (by code point), list or tuple; bounds may be None. Jinja
// slices without its sandbox's getitem, so slicing anything else is Python's error.
Value slice(const Value& sequence, const Value& start, const Value& stop, const Value& step);

// format % arguments, printf-style: %s %r %d %i %f %e %g %x %o %c %%, flags, width, precision and
// %(key)s with a dict. A tuple supplies several arguments; anything else is one.
std::string percent_format(std::string_view format, const Value& arguments);

}  // namespace llmctl::engine::jinja
