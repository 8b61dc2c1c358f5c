// What the golden cases cannot show: where errors point, one parse serving many renders, and limits.
#include "tokenizer/jinja/jinja_template.hpp"

#include "common/error.hpp"

#include <doctest/doctest.h>
#include <fmt/format.h>

#include <ctime>
#include <thread>
#include <vector>

using doctest::Contains;
using llmctl::engine::jinja::Template;
using nlohmann::ordered_json;

namespace {

std::string render(std::string_view source, const ordered_json& context = ordered_json::object()) {
  return Template(source, "t.jinja").render(context);
}

}  // namespace

TEST_CASE("errors name the origin, the line and the column (in characters) of what failed") {
  CHECK_THROWS_WITH_AS(Template("Hello\n  {% for x in xs %}\n{{ x }}\n  {% endif %}", "chat_template.jinja"),
                       Contains("chat_template.jinja:4:6: Encountered unknown tag 'endif'."), llmctl::Error);
  CHECK_THROWS_WITH_AS(render("line one\n  {{ user.name.first }}"), "t.jinja:2:6: 'user' is undefined", llmctl::Error);
  CHECK_THROWS_WITH_AS(render("é {{ nope.x }}"), "t.jinja:1:6: 'nope' is undefined", llmctl::Error);
  CHECK_THROWS_WITH_AS(render("{% if true %}\n  {{ raise_exception('System messages are not supported') }}{% endif %}"),
                       "t.jinja:2:6: System messages are not supported", llmctl::Error);
  CHECK_THROWS_WITH_AS(render("{{ [1, 'a'] | sum }}"),
                       "t.jinja:1:15: unsupported operand type(s) for +: 'int' and 'str'", llmctl::Error);
  CHECK_THROWS_WITH_AS(render("{{ x }}", ordered_json::array()), "t.jinja: the render context must be a JSON object",
                       llmctl::Error);
}

TEST_CASE("a template is parsed once; render is const and can run on several threads at once") {
  const Template chat("{% for m in messages %}<{{ m.role }}>{{ m.content | trim }}{% endfor %}{{ suffix }}", "chat");
  const auto context = [](int i) {
    return ordered_json{{"messages", {{{"role", "user"}, {"content", fmt::format(" question {} ", i)}}}},
                        {"suffix", i}};
  };
  CHECK(chat.render(context(1)) == "<user>question 11");
  const Template copy = chat;  // copies share the parsed template
  CHECK(copy.render(context(2)) == "<user>question 22");

  std::vector<std::string> failures(4);
  std::vector<std::thread> threads;
  for (int t = 0; t < 4; ++t) {
    threads.emplace_back([&chat, &context, &failures, t] {
      for (int i = 0; i < 200; ++i) {
        const int n = t * 1000 + i;
        if (chat.render(context(n)) != fmt::format("<user>question {}{}", n, n))
          failures[static_cast<std::size_t>(t)] = "wrong output";
      }
    });
  }
  for (auto& thread : threads) thread.join();
  for (const auto& failure : failures) CHECK(failure.empty());
}

TEST_CASE("runaway recursion and nesting fail with an error instead of exhausting the stack") {
  CHECK_THROWS_WITH_AS(render("{% macro f(n) %}{{ f(n + 1) }}{% endmacro %}{{ f(0) }}"),
                       Contains("maximum recursion depth exceeded"), llmctl::Error);
  const std::string nested = "{{ " + std::string(500, '(') + "1" + std::string(500, ')') + " }}";
  CHECK_THROWS_WITH_AS(render(nested), Contains("nested too deeply"), llmctl::Error);
  CHECK(render("{{ " + std::string(50, '(') + "1" + std::string(50, ')') + " }}") == "1");
}

TEST_CASE("break and continue outside a loop do not parse, as Python refuses Jinja's compiled code") {
  CHECK_THROWS_WITH_AS(render("{% break %}"), "t.jinja:1:4: 'break' outside loop", llmctl::Error);
  // A macro body is a function of its own, even inside a loop.
  CHECK_THROWS_WITH_AS(render("{% for x in [1] %}{% macro m() %}{% continue %}{% endmacro %}{% endfor %}"),
                       Contains("'continue' outside loop"), llmctl::Error);
  CHECK(
      render(
          "{% for x in [1, 2] %}{% filter upper %}{% if x == 2 %}{% break %}{% endif %}x{% endfilter %}{% endfor %}") ==
      "X");
}

TEST_CASE("strftime_now formats the current local time") {
  const std::time_t now = std::time(nullptr);
  std::tm local{};
  localtime_r(&now, &local);
  CHECK(render("{{ strftime_now('%Y') }}") == std::to_string(local.tm_year + 1900));
}
