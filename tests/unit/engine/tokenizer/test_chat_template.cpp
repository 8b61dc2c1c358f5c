#include "tokenizer/chat_template.hpp"

#include "common/error.hpp"
#include "common/json_file.hpp"
#include "support/real_tokenizers.hpp"

#include <doctest/doctest.h>

#include <fstream>

using namespace llmctl::engine;
using nlohmann::ordered_json;

namespace {

ordered_json read_ordered(const std::filesystem::path& path) {
  std::ifstream in(path);
  return ordered_json::parse(in);
}

// Python's own type errors (as opposed to the template's raise_exception) have no counterpart
// wording here: for those only the failure itself must match.
bool python_type_error(const std::string& message) {
  for (const char* pattern : {"can only concatenate", "is not iterable", "has no attribute"}) {
    if (message.find(pattern) != std::string::npos) return true;
  }
  return false;
}

}  // namespace

TEST_CASE("chat templates render exactly as transformers' apply_chat_template, errors included") {
  std::size_t rendered = 0, failed_as_expected = 0;
  for (const std::string name : llmctl::test::kRealTokenizers) {
    const auto golden = read_ordered(llmctl::test::kFixtures / "tokenizers" / (name + ".json"));
    if (!golden.contains("chat")) continue;
    const auto config = load_tokenizer_config(llmctl::test::kTokenizerFiles / name);
    const auto chat_template = ChatTemplate::for_model(config, std::nullopt);
    for (const auto& entry : golden.at("chat")) {
      const std::string label = name + " / " + entry.at("name").get<std::string>() +
                                (entry.at("add_generation_prompt").get<bool>() ? " / generation prompt" : "");
      CAPTURE(label);
      const auto tools = entry.value("tools", ordered_json());
      const auto kwargs = entry.value("kwargs", ordered_json::object());
      const bool add_generation_prompt = entry.at("add_generation_prompt").get<bool>();
      if (entry.contains("rendered")) {
        std::string actual;
        CHECK_NOTHROW(actual = chat_template.render(entry.at("messages"), tools, add_generation_prompt, kwargs));
        CHECK(actual == entry.at("rendered").get<std::string>());
        ++rendered;
        continue;
      }
      const auto expected = entry.at("error").get<std::string>();
      try {
        chat_template.render(entry.at("messages"), tools, add_generation_prompt, kwargs);
        FAIL("rendered, but transformers failed with: " << expected);
      } catch (const llmctl::Error& error) {
        if (!python_type_error(expected)) CHECK(std::string(error.what()).find(expected) != std::string::npos);
        ++failed_as_expected;
      }
    }
  }
  CHECK(rendered > 180);
  CHECK(failed_as_expected > 20);
}

TEST_CASE("--chat-template takes a file or the template text; a path-like string that is no file is an error") {
  llmctl::test::TempDir dir;
  llmctl::test::write_file(dir / "t.jinja", "{% for m in messages %}[{{ m.role }}]{{ m.content }}{% endfor %}\n");
  TokenizerConfig config;
  config.bos_token = "<s>";
  const auto messages = ordered_json::parse(R"([{"role": "user", "content": "hi"}])");
  const auto from_file = ChatTemplate::for_model(config, (dir / "t.jinja").string());
  CHECK(from_file.render(messages, nullptr, false, {}) == "[user]hi");  // the file's final newline is dropped, as in Jinja
  const auto from_text = ChatTemplate::for_model(config, std::string("{{ bos_token }}{{ messages[0].content }}{{ x }}"));
  CHECK(from_text.render(messages, nullptr, false, {{"x", "!"}}) == "<s>hi!");
  CHECK_THROWS_WITH_AS(ChatTemplate::for_model(config, (dir / "missing.jinja").string()), doctest::Contains("no such file"), llmctl::Error);
  CHECK_THROWS_WITH_AS(ChatTemplate::for_model(std::nullopt, std::nullopt), doctest::Contains("has no chat template"), llmctl::Error);
  CHECK_THROWS_WITH_AS(ChatTemplate::for_model(config, std::string("line one\n{% if %}")), doctest::Contains("--chat-template:2:"),
                       llmctl::Error);
}
