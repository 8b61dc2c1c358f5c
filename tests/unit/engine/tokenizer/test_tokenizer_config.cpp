#include "tokenizer/tokenizer_config.hpp"

#include "common/error.hpp"
#include "support/test_files.hpp"

#include <doctest/doctest.h>

using namespace llmctl::engine;
using nlohmann::json;

TEST_CASE("special tokens as strings or AddedToken objects, added tokens by id") {
  const json config = {
      {"bos_token", {{"__type", "AddedToken"}, {"content", "<｜begin▁of▁sentence｜>"}, {"lstrip", false}}},
      {"eos_token", "<|im_end|>"},
      {"pad_token", nullptr},
      {"add_bos_token", true},
      {"model_max_length", 1e30},
      {"tokenizer_class", "LlamaTokenizerFast"},
      {"added_tokens_decoder",
       {{"151645", {{"content", "<|im_end|>"}, {"special", true}}}, {"151643", {{"content", "<|endoftext|>"}, {"special", true}}},
        {"151667", {{"content", "<think>"}, {"special", false}}}}},
      {"chat_template", "{% for m in messages %}{{ m.content }}{% endfor %}"},
  };
  const auto parsed = parse_tokenizer_config(config, "tokenizer_config.json");
  CHECK(parsed.bos_token == "<｜begin▁of▁sentence｜>");
  CHECK(parsed.eos_token == "<|im_end|>");
  CHECK_FALSE(parsed.pad_token);
  CHECK(parsed.add_bos_token == true);
  CHECK_FALSE(parsed.model_max_length);  // 1e30 means "no limit"
  REQUIRE(parsed.added_tokens.size() == 3);
  CHECK(parsed.added_tokens[0].id == 151643);
  CHECK_FALSE(parsed.added_tokens[2].special);
  CHECK(parsed.chat_template_file == "tokenizer_config.json");
}

TEST_CASE("a list of named chat templates, and chat_template.jinja taking precedence") {
  llmctl::test::TempDir dir;
  const json config = {{"chat_template", json::array({{{"name", "default"}, {"template", "A"}}, {{"name", "tool_use"}, {"template", "B"}}})},
                       {"model_max_length", 32768}};
  llmctl::test::write_file(dir / "tokenizer_config.json", config.dump());
  auto parsed = load_tokenizer_config(dir.path());
  REQUIRE(parsed);
  CHECK(parsed->chat_template == "A");
  CHECK(parsed->named_chat_templates == std::vector<std::string>{"tool_use"});
  CHECK(parsed->model_max_length == 32768);
  llmctl::test::write_file(dir / "chat_template.jinja", "{{ messages }}");
  parsed = load_tokenizer_config(dir.path());
  CHECK(parsed->chat_template == "{{ messages }}");
  CHECK(parsed->chat_template_file == (dir / "chat_template.jinja").string());
}

TEST_CASE("malformed tokenizer configs") {
  using doctest::Contains;
  CHECK_THROWS_WITH_AS(parse_tokenizer_config({{"chat_template", 3}}, "t.json"), Contains("'chat_template' must be a string or a list"), llmctl::Error);
  CHECK_THROWS_WITH_AS(parse_tokenizer_config({{"eos_token", {{"id", 3}}}}, "t.json"), Contains("'eos_token' must be a token string"), llmctl::Error);
  CHECK_THROWS_WITH_AS(parse_tokenizer_config({{"added_tokens_decoder", {{"x1", {{"content", "a"}}}}}}, "t.json"),
                       Contains("'added_tokens_decoder' must be an object of"), llmctl::Error);
  llmctl::test::TempDir dir;
  CHECK_FALSE(load_tokenizer_config(dir.path()));
}
