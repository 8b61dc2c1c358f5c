#pragma once

#include <nlohmann/json.hpp>

#include <memory>
#include <string>
#include <string_view>
#include <vector>

namespace llmctl::engine::jinja {

struct Statement;

// A Hugging Face chat template: Jinja2 as transformers configures it (trim_blocks, lstrip_blocks,
// loop controls, {% generation %}, an immutable sandbox, raise_exception, strftime_now and a tojson
// that keeps keys in order and non-ASCII as is), rendering byte for byte what Python renders.
class Template {
 public:
  // Parses once; throws llmctl::Error "ORIGIN:LINE:COLUMN: <what is wrong>" for syntax errors.
  Template(std::string_view source, std::string origin);

  // Renders with `context` (a JSON object whose top-level keys become variables). Runtime errors
  // (unknown filter, type errors, raise_exception("msg")) throw llmctl::Error naming ORIGIN:LINE:COLUMN;
  // raise_exception's message appears verbatim in the error text. Safe to call from several threads.
  std::string render(const nlohmann::ordered_json& context) const;

 private:
  std::string origin_;
  std::shared_ptr<const std::vector<Statement>> body_;
};

}  // namespace llmctl::engine::jinja
