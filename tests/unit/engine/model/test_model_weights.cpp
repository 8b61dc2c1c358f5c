#include "model/model_weights.hpp"

#include "backend/cpu/cpu_backend.hpp"
#include "common/error.hpp"
#include "common/json_file.hpp"
#include "support/test_files.hpp"

#include <doctest/doctest.h>

using namespace llmctl::engine;
using llmctl::test::copy_fixture;
using llmctl::test::read_file;
using llmctl::test::TempDir;
using llmctl::test::write_file;
using doctest::Contains;

namespace {

ModelWeights load(const std::filesystem::path& folder) {
  CpuBackend backend;
  return load_model_weights(folder, load_model_config(folder), backend);
}

// Rewrites the JSON header of a safetensors file in place (same length, so the data stays put).
void edit_header(const std::filesystem::path& file, const std::string& from, const std::string& to) {
  auto bytes = read_file(file);
  const auto at = bytes.find(from);
  REQUIRE(at != std::string::npos);
  REQUIRE(from.size() == to.size());
  bytes.replace(at, from.size(), to);
  write_file(file, bytes);
}

}  // namespace

TEST_CASE("bf16, fp16 and fp32 checkpoints, sharded or not, load with fused qkv and gate_up") {
  for (const auto* name : {"tiny-llama3", "tiny-qwen2", "tiny-qwen3", "tiny-mistral"}) {
    INFO(name);
    const auto folder = llmctl::test::kFixtures / "tiny-models" / name;
    const auto config = load_model_config(folder);
    const auto weights = load(folder);
    REQUIRE(weights.layers.size() == 2);
    CHECK(weights.layers[0].qkv.rows == (config.num_attention_heads + 2 * config.num_kv_heads) * config.head_dim);
    CHECK(weights.layers[0].gate_up.rows == 2 * config.intermediate_size);
    CHECK(static_cast<bool>(weights.layers[0].qkv_bias) == config.qkv_bias);
    CHECK(static_cast<bool>(weights.layers[0].q_norm) == config.qk_norm);
    CHECK((weights.lm_head.data == weights.embed_tokens.data) == config.tie_word_embeddings);
  }
}

TEST_CASE("a PyTorch .bin checkpoint loads the same way") {
  const auto weights = load(llmctl::test::kFixtures / "generation" / "llama-linear-bin");
  CHECK(weights.layers.size() == 2);
}

TEST_CASE("damaged checkpoints are clear errors naming the file or tensor") {
  TempDir dir;
  SUBCASE("a missing shard") {
    const auto folder = copy_fixture("tiny-models/tiny-qwen3", dir);
    std::filesystem::remove(folder / "model-00003-of-00005.safetensors");
    CHECK_THROWS_WITH_AS(load(folder), Contains("model-00003-of-00005.safetensors"), llmctl::Error);
  }
  SUBCASE("a truncated shard") {
    const auto folder = copy_fixture("tiny-models/tiny-qwen3", dir);
    const auto shard = folder / "model-00002-of-00005.safetensors";
    std::filesystem::resize_file(shard, std::filesystem::file_size(shard) - 100);
    CHECK_THROWS_WITH_AS(load(folder), Contains("truncated"), llmctl::Error);
  }
  SUBCASE("shapes that do not match config.json") {
    const auto folder = copy_fixture("generation/qwen3", dir);
    auto config = llmctl::read_json_file(folder / "config.json");
    config["intermediate_size"] = 96;
    write_file(folder / "config.json", config.dump());
    CHECK_THROWS_WITH_AS(load(folder), Contains("tensor 'model.layers.0.mlp.down_proj.weight' has shape [64, 128] but config.json implies [64, 96]"), llmctl::Error);
  }
  SUBCASE("a tensor of an integer dtype") {
    const auto folder = copy_fixture("generation/qwen3", dir);
    edit_header(folder / "model.safetensors", R"("model.norm.weight":{"dtype":"F32")", R"("model.norm.weight":{"dtype":"I32")");
    CHECK_THROWS_WITH_AS(load(folder), Contains("'model.norm.weight' has dtype I32, which the engine cannot load"),
                         llmctl::Error);
  }
  SUBCASE("an unknown dtype") {
    const auto folder = copy_fixture("generation/qwen3", dir);
    edit_header(folder / "model.safetensors", R"("model.norm.weight":{"dtype":"F32")", R"("model.norm.weight":{"dtype":"Q32")");
    CHECK_THROWS_WITH_AS(load(folder), Contains("Q32"), llmctl::Error);
  }
  SUBCASE("weights of another architecture") {
    const auto folder = copy_fixture("generation/qwen3", dir);
    std::filesystem::copy_file(llmctl::test::kFixtures / "generation" / "llama3" / "model.safetensors",
                               folder / "model.safetensors", std::filesystem::copy_options::overwrite_existing);
    // Llama's k_proj is [kv heads x 16, 64]; Qwen3's config says head_dim 32.
    CHECK_THROWS_WITH_AS(load(folder), Contains("'model.layers.0.self_attn.k_proj.weight' has shape [32, 64] but config.json implies [64, 64]"),
                         llmctl::Error);
  }
  SUBCASE("a tensor the architecture does not have") {
    const auto folder = copy_fixture("generation/llama3", dir);
    std::filesystem::copy_file(llmctl::test::kFixtures / "generation" / "qwen3" / "model.safetensors",
                               folder / "model.safetensors", std::filesystem::copy_options::overwrite_existing);
    CHECK_THROWS_WITH_AS(load(folder), Contains("unexpected tensor"), llmctl::Error);
  }
  SUBCASE("no weights at all") {
    const auto folder = copy_fixture("generation/llama3", dir);
    std::filesystem::remove(folder / "model.safetensors");
    CHECK_THROWS_WITH_AS(load(folder), Contains("no weights found"), llmctl::Error);
  }
}
