#include "model/generation_config.hpp"

#include "common/error.hpp"
#include "support/test_files.hpp"

#include <doctest/doctest.h>

using namespace llmctl::engine;

TEST_CASE("generation_config.json of Llama-3.1 and Qwen2.5") {
  const auto llama = load_generation_config(llmctl::test::kFixtures / "configs" / "meta-llama--Llama-3.1-8B-Instruct");
  REQUIRE(llama);
  CHECK(llama->eos_token_ids == std::vector<std::int64_t>{128001, 128008, 128009});
  CHECK(llama->bos_token_id == 128000);
  CHECK(llama->do_sample == true);
  CHECK(llama->temperature == 0.6);
  CHECK(llama->top_p == 0.9);
  CHECK_FALSE(llama->top_k);

  const auto qwen = load_generation_config(llmctl::test::kFixtures / "configs" / "Qwen--Qwen2.5-7B-Instruct");
  REQUIRE(qwen);
  CHECK(qwen->eos_token_ids == std::vector<std::int64_t>{151645, 151643});
  CHECK(qwen->top_k == 20);
  CHECK(qwen->repetition_penalty == 1.05);
}

TEST_CASE("absent and malformed generation configs") {
  llmctl::test::TempDir dir;
  CHECK_FALSE(load_generation_config(dir.path()));
  CHECK_THROWS_WITH_AS(parse_generation_config({{"eos_token_id", "2"}}, "g.json"),
                       doctest::Contains("'eos_token_id' must be an integer or a list of integers"), llmctl::Error);
  CHECK_THROWS_WITH_AS(parse_generation_config({{"top_k", 0.5}}, "g.json"), doctest::Contains("'top_k' must be an integer"), llmctl::Error);
  CHECK_THROWS_WITH_AS(parse_generation_config({{"temperature", "hot"}}, "g.json"), doctest::Contains("'temperature' must be a number"), llmctl::Error);
}
