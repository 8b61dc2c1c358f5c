#include "tokenizer/jinja/jinja_template.hpp"

#include "tokenizer/jinja/jinja_interpreter.hpp"
#include "tokenizer/jinja/jinja_parser.hpp"

namespace llmctl::engine::jinja {

Template::Template(std::string_view source, std::string origin)
    : origin_(std::move(origin)), body_(std::make_shared<const Body>(parse_template(source, origin_))) {}

std::string Template::render(const nlohmann::ordered_json& context) const {
  return render_template(*body_, origin_, context);
}

}  // namespace llmctl::engine::jinja
