#include "model/model_config.hpp"

#include "common/error.hpp"
#include "common/json_file.hpp"
#include "support/test_files.hpp"

#include <doctest/doctest.h>

using namespace llmctl::engine;
using llmctl::test::kFixtures;

namespace {

ModelConfig reference(const std::string& name) { return load_model_config(kFixtures / "configs" / name); }

nlohmann::json reference_json(const std::string& name) {
  return llmctl::read_json_file(kFixtures / "configs" / name / "config.json");
}

}  // namespace

TEST_CASE("Qwen2.5-7B-Instruct: shapes, Qwen2 biases, no rope scaling") {
  const auto c = reference("Qwen--Qwen2.5-7B-Instruct");
  CHECK(c.family == ModelFamily::qwen2);
  CHECK(c.hidden_size == 3584);
  CHECK(c.num_layers == 28);
  CHECK(c.num_attention_heads == 28);
  CHECK(c.num_kv_heads == 4);
  CHECK(c.head_dim == 128);
  CHECK(c.intermediate_size == 18944);
  CHECK(c.vocab_size == 152064);
  CHECK(c.qkv_bias);
  CHECK_FALSE(c.o_bias);
  CHECK_FALSE(c.qk_norm);
  CHECK_FALSE(c.tie_word_embeddings);
  CHECK(c.rope_scaling.type == "default");
  CHECK(c.rope_theta == 1000000.0);
  CHECK(c.derived_max_model_len() == 32768);
  CHECK(c.dtype == DType::bf16);
  CHECK_FALSE(c.sliding_window.has_value());  // use_sliding_window is false
  CHECK(c.eos_token_ids == std::vector<std::int64_t>{151645});
}

TEST_CASE("Llama-3.1-8B-Instruct: llama3 rope scaling, eos list") {
  const auto c = reference("meta-llama--Llama-3.1-8B-Instruct");
  CHECK(c.family == ModelFamily::llama);
  CHECK(c.rope_scaling.type == "llama3");
  CHECK(c.rope_scaling.factor == 8.0);
  CHECK(c.rope_scaling.low_freq_factor == 1.0);
  CHECK(c.rope_scaling.high_freq_factor == 4.0);
  CHECK(c.rope_scaling.original_max_position_embeddings == 8192);
  CHECK(c.rope_theta == 500000.0);
  // llama3 scaling is already reflected in max_position_embeddings, so vLLM does not multiply it.
  CHECK(c.derived_max_model_len() == 131072);
  CHECK(c.eos_token_ids == std::vector<std::int64_t>{128001, 128008, 128009});
  CHECK(c.bos_token_id == 128000);
  CHECK_FALSE(c.qkv_bias);
}

TEST_CASE("Qwen3-8B: explicit head_dim, q/k norm, rope_scaling null") {
  const auto c = reference("Qwen--Qwen3-8B");
  CHECK(c.family == ModelFamily::qwen3);
  CHECK(c.head_dim == 128);
  CHECK(c.qk_norm);
  CHECK_FALSE(c.qkv_bias);
  CHECK(c.rope_scaling.type == "default");
  CHECK(c.derived_max_model_len() == 40960);
}

TEST_CASE("Mistral-7B-Instruct-v0.3 and the DeepSeek-R1 distills parse as their base families") {
  const auto mistral = reference("mistralai--Mistral-7B-Instruct-v0.3");
  CHECK(mistral.family == ModelFamily::mistral);
  CHECK(mistral.vocab_size == 32768);
  CHECK_FALSE(mistral.sliding_window.has_value());  // null in v0.3
  const auto r1_qwen = reference("deepseek-ai--DeepSeek-R1-Distill-Qwen-7B");
  CHECK(r1_qwen.family == ModelFamily::qwen2);
  CHECK(r1_qwen.rope_theta == 10000.0);
  CHECK(r1_qwen.derived_max_model_len() == 131072);
  CHECK(reference("deepseek-ai--DeepSeek-R1-Distill-Llama-8B").family == ModelFamily::llama);
}

TEST_CASE("transformers 5 layout: rope_parameters and dtype") {
  const auto c = load_model_config(kFixtures / "tiny-models" / "tiny-llama3");
  CHECK(c.rope_scaling.type == "llama3");
  CHECK(c.rope_theta == 500000.0);
  CHECK(c.rope_scaling.original_max_position_embeddings == 64);
  CHECK(c.dtype == DType::bf16);
  CHECK(c.eos_token_ids == std::vector<std::int64_t>{2, 3});
  CHECK(c.head_dim == 16);
}

TEST_CASE("linear and yarn scaling extend the derived length; Mistral v0.1 keeps its window") {
  auto json = reference_json("Qwen--Qwen2.5-7B-Instruct");
  json["rope_scaling"] = {{"type", "yarn"}, {"factor", 4.0}, {"original_max_position_embeddings", 32768}};
  CHECK(parse_model_config(json).derived_max_model_len() == 131072);
  json["rope_scaling"] = {{"rope_type", "linear"}, {"factor", 2.0}};
  CHECK(parse_model_config(json).derived_max_model_len() == 65536);

  auto mistral = reference_json("mistralai--Mistral-7B-Instruct-v0.3");
  mistral["sliding_window"] = 4096;
  CHECK(parse_model_config(mistral).sliding_window == 4096);
  auto qwen = reference_json("Qwen--Qwen2.5-7B-Instruct");
  qwen["use_sliding_window"] = true;
  qwen["max_window_layers"] = 20;
  const auto windowed = parse_model_config(qwen);
  CHECK(windowed.sliding_window == 131072);
  CHECK(windowed.sliding_window_first_layer == 20);
}

TEST_CASE("bad config.json: each problem is one clear error") {
  using doctest::Contains;
  auto json = reference_json("Qwen--Qwen2.5-7B-Instruct");

  auto unknown = json;
  unknown["architectures"] = {"GemmaForCausalLM"};
  CHECK_THROWS_WITH_AS(parse_model_config(unknown), Contains("architecture 'GemmaForCausalLM' is not supported (supported: LlamaForCausalLM"), llmctl::Error);

  auto missing = json;
  missing.erase("hidden_size");
  CHECK_THROWS_WITH_AS(parse_model_config(missing), Contains("'hidden_size' is missing"), llmctl::Error);

  auto wrong_type = json;
  wrong_type["num_hidden_layers"] = "28";
  CHECK_THROWS_WITH_AS(parse_model_config(wrong_type), Contains("'num_hidden_layers' must be a positive integer (got \"28\")"), llmctl::Error);

  auto negative = json;
  negative["vocab_size"] = -1;
  CHECK_THROWS_AS(parse_model_config(negative), llmctl::Error);

  auto heads = json;
  heads["num_key_value_heads"] = 5;
  CHECK_THROWS_WITH_AS(parse_model_config(heads), Contains("not a multiple of num_key_value_heads 5"), llmctl::Error);

  auto rope = json;
  rope["rope_scaling"] = {{"type", "longrope"}, {"factor", 4.0}};
  CHECK_THROWS_WITH_AS(parse_model_config(rope), Contains("rope scaling type 'longrope' is not supported"), llmctl::Error);

  auto dtype = json;
  dtype["torch_dtype"] = "int3";
  CHECK_THROWS_WITH_AS(parse_model_config(dtype), Contains("'torch_dtype' must be bfloat16, float16 or float32"), llmctl::Error);

  CHECK_THROWS_WITH_AS(parse_model_config(nlohmann::json::array()), Contains("expected a JSON object"), llmctl::Error);
}

TEST_CASE("config.json files that are missing or not JSON") {
  llmctl::test::TempDir dir;
  CHECK_THROWS_WITH_AS(load_model_config(dir.path()), doctest::Contains("config.json: no such file"), llmctl::Error);
  llmctl::test::write_file(dir / "config.json", "{\"architectures\": [\"LlamaForCausalLM\"],");
  CHECK_THROWS_WITH_AS(load_model_config(dir.path()), doctest::Contains("config.json: invalid JSON: parse error at line 1"), llmctl::Error);
}
