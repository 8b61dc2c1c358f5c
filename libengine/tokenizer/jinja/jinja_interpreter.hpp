#pragma once

#include "tokenizer/jinja/jinja_ast.hpp"

#include <nlohmann/json.hpp>

#include <string>
#include <string_view>

namespace llmctl::engine::jinja {

// Runs parsed statements with `context` (a JSON object whose keys become variables) and returns the
// output. Scoping follows Jinja: loop iterations, macro calls and block bodies have their own
// variables, so what they set stays inside. Errors throw llmctl::Error "ORIGIN:LINE:COLUMN: ...".
std::string render_template(const Body& body, std::string_view origin, const nlohmann::ordered_json& context);

}  // namespace llmctl::engine::jinja
