#pragma once

#include "common/error.hpp"

#include <fmt/format.h>

#include <cstddef>
#include <string_view>

namespace llmctl::engine::jinja {

// Where something is in the template source: 1-based line, and column in code points.
struct Position {
  std::size_t line = 1;
  std::size_t column = 1;
};

// Thrown by code that does not know where in the template it runs (filters, operators, methods);
// the interpreter catches it and rethrows the message as an llmctl::Error naming the position.
class RenderError : public llmctl::Error {
 public:
  using llmctl::Error::Error;
};

// "ORIGIN:LINE:COLUMN: message", the form of every error about a template.
[[noreturn]] inline void fail_at(std::string_view origin, Position position, std::string_view message) {
  throw llmctl::Error(fmt::format("{}:{}:{}: {}", origin, position.line, position.column, message));
}

}  // namespace llmctl::engine::jinja
