// The golden cases of tests/reference/jinja_cases.json, as Python's jinja2 renders them with Hugging
// Face's settings (tests/fixtures/jinja/expected.json, written by tests/reference/render_jinja_cases.py).
#include "tokenizer/jinja/jinja_template.hpp"

#include "common/error.hpp"
#include "support/test_files.hpp"

#include <doctest/doctest.h>
#include <fmt/format.h>

#include <optional>
#include <regex>

using llmctl::engine::jinja::Template;
using nlohmann::ordered_json;

namespace {

ordered_json read_json(const std::filesystem::path& path) { return ordered_json::parse(llmctl::test::read_file(path)); }

// A string as a JSON literal, so that whitespace and control characters show.
std::string quoted(const std::string& text) {
  return ordered_json(text).dump(-1, ' ', false, ordered_json::error_handler_t::replace);
}

struct Outcome {
  std::optional<std::string> output;
  std::string error;  // the message, when it failed
  std::string stage;  // where it failed: "parse" (the constructor) or "render"
};

Outcome run_case(const ordered_json& golden) {
  Outcome outcome{std::nullopt, "", "parse"};
  try {
    const Template compiled(golden["template"].get<std::string>(), golden["name"].get<std::string>());
    outcome.stage = "render";
    outcome.output = compiled.render(golden["context"]);
  } catch (const llmctl::Error& error) {
    outcome.error = error.what();
  }
  return outcome;
}

// An error must fail at the same stage as in Python, read "NAME:LINE:COLUMN: ..." on one line with
// Python's message in it, and for syntax errors name Python's line.
std::string error_mismatch(const ordered_json& golden, const Outcome& outcome) {
  if (outcome.output) return "rendered " + quoted(*outcome.output) + " instead of failing";
  const auto stage = golden["stage"].get<std::string>();
  if (outcome.stage != stage) return fmt::format("failed at {} instead of {}: {}", outcome.stage, stage, outcome.error);
  std::smatch position;
  const std::regex located("^" + golden["name"].get<std::string>() + ":([0-9]+):[0-9]+: ");
  if (!std::regex_search(outcome.error, position, located)) return "no NAME:LINE:COLUMN position: " + outcome.error;
  if (outcome.error.find('\n') != std::string::npos) return "not one line: " + quoted(outcome.error);
  if (outcome.error.find(golden["error"].get<std::string>()) == std::string::npos)
    return "a different message: " + outcome.error;
  if (golden.contains("error_line") && std::stoi(position[1]) != golden["error_line"].get<int>())
    return fmt::format("line {} instead of {}: {}", position[1].str(), golden["error_line"].get<int>(), outcome.error);
  return "";
}

}  // namespace

TEST_CASE("every golden case renders byte for byte as in Python's jinja2, or fails as it does") {
  const auto goldens = read_json(llmctl::test::kFixtures / "jinja" / "expected.json");
  REQUIRE(goldens.size() >= 150);
  std::size_t matching = 0;
  for (const auto& golden : goldens) {
    const Outcome outcome = run_case(golden);
    std::string mismatch;
    if (golden.contains("output")) {
      const auto expected = golden["output"].get<std::string>();
      if (outcome.output != expected)
        mismatch = "expected " + quoted(expected) + "\n  actual " +
                   (outcome.output ? quoted(*outcome.output) : "error: " + outcome.error);
    } else {
      mismatch = error_mismatch(golden, outcome);
      if (!mismatch.empty())
        mismatch = fmt::format("expected the error {}\n  {}", quoted(golden["error"].get<std::string>()), mismatch);
    }
    CHECK_MESSAGE(mismatch.empty(), golden["name"].get<std::string>(), ": ",
                  quoted(golden["template"].get<std::string>()), "\n  ", mismatch);
    matching += mismatch.empty() ? 1 : 0;
  }
  MESSAGE(matching, " of ", goldens.size(), " golden cases match");
}

TEST_CASE("the golden fixture is current with tests/reference/jinja_cases.json") {
  const auto cases = read_json(llmctl::test::kSourceDir / "tests" / "reference" / "jinja_cases.json");
  const auto goldens = read_json(llmctl::test::kFixtures / "jinja" / "expected.json");
  REQUIRE(cases.size() == goldens.size());
  for (std::size_t i = 0; i < cases.size(); ++i) {
    INFO("case ", cases[i]["name"].get<std::string>(), ": rerun tests/reference/render_jinja_cases.py");
    CHECK(goldens[i]["name"] == cases[i]["name"]);
    CHECK(goldens[i]["template"] == cases[i]["template"]);
    CHECK(goldens[i]["context"] == cases[i]["context"]);
  }
}
