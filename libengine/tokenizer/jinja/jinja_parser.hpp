#pragma once

#include "tokenizer/jinja/jinja_ast.hpp"

#include <string_view>

namespace llmctl::engine::jinja {

// Parses a template as Jinja's parser and compiler do, syntax errors and their messages included:
// an unknown filter or test is an error here unless it sits inside an if statement or an inline if,
// where Jinja only fails if it runs. Throws llmctl::Error "ORIGIN:LINE:COLUMN: <what is wrong>".
Body parse_template(std::string_view source, std::string_view origin);

}  // namespace llmctl::engine::jinja
