#include "weights/checkpoint.hpp"

#include "common/error.hpp"
#include "common/json_file.hpp"
#include "support/test_files.hpp"

#include <doctest/doctest.h>

using namespace llmctl::engine;
using llmctl::test::copy_fixture;
using llmctl::test::TempDir;
using llmctl::test::write_file;
using doctest::Contains;

TEST_CASE("a sharded checkpoint written by transformers: every tensor found in its shard") {
  const auto folder = llmctl::test::kFixtures / "tiny-models" / "tiny-qwen3";
  const auto expected = llmctl::read_json_file(folder / "expected.json");
  const auto checkpoint = read_checkpoint(folder);
  CHECK(checkpoint.format == CheckpointFormat::safetensors);
  CHECK(checkpoint.files.size() == 5);
  CHECK(checkpoint.parameter_count() == expected["num_parameters"].get<std::uint64_t>());
  CHECK(checkpoint.parameters_by_dtype().at(DType::bf16) == checkpoint.parameter_count());
  REQUIRE(checkpoint.tensors.size() == expected["tensors"].size());
  for (const auto& tensor : checkpoint.tensors) CHECK(expected["tensors"][tensor.info.name]["file"] == tensor.file);
}

TEST_CASE("single-file checkpoints and folders without weights") {
  const auto qwen2 = read_checkpoint(llmctl::test::kFixtures / "tiny-models" / "tiny-qwen2");
  CHECK(qwen2.files == std::vector<std::string>{"model.safetensors"});
  CHECK(qwen2.parameter_count() == 94'784);
  const auto none = read_checkpoint(llmctl::test::kFixtures / "configs" / "Qwen--Qwen3-8B");
  CHECK(none.format == CheckpointFormat::none);
  CHECK(none.tensors.empty());
}

TEST_CASE("a damaged sharded checkpoint is an error, never a partial read") {
  TempDir dir;
  const auto folder = copy_fixture("tiny-models/tiny-qwen3", dir);
  const auto index_path = folder / "model.safetensors.index.json";
  const auto index = llmctl::read_json_file(index_path);

  SUBCASE("a missing shard") {
    std::filesystem::remove(folder / "model-00002-of-00005.safetensors");
    CHECK_THROWS_WITH_AS(read_checkpoint(folder), Contains("model-00002-of-00005.safetensors: missing checkpoint shard"), llmctl::Error);
  }
  SUBCASE("a truncated shard") {
    const auto shard = folder / "model-00004-of-00005.safetensors";
    std::filesystem::resize_file(shard, std::filesystem::file_size(shard) - 100);
    CHECK_THROWS_WITH_AS(read_checkpoint(folder), Contains("model-00004-of-00005.safetensors: not a valid safetensors file"), llmctl::Error);
  }
  SUBCASE("the index names a tensor its shard lacks") {
    auto edited = index;
    edited["weight_map"]["model.norm.weight"] = "model-00001-of-00005.safetensors";
    write_file(index_path, edited.dump());
    CHECK_THROWS_WITH_AS(read_checkpoint(folder), Contains("tensor 'model.norm.weight' is listed in model-00001-of-00005.safetensors but that shard does not hold it"), llmctl::Error);
  }
  SUBCASE("a shard name that leaves the folder") {
    auto edited = index;
    edited["weight_map"]["model.norm.weight"] = "../../etc/passwd";
    write_file(index_path, edited.dump());
    CHECK_THROWS_WITH_AS(read_checkpoint(folder), Contains("refusing shard file name '../../etc/passwd'"), llmctl::Error);
  }
  SUBCASE("an index that is not JSON") {
    write_file(index_path, "{\"weight_map\": ");
    CHECK_THROWS_WITH_AS(read_checkpoint(folder), Contains("model.safetensors.index.json: invalid JSON"), llmctl::Error);
  }
}

TEST_CASE("unindexed safetensors files must not repeat a tensor") {
  TempDir dir;
  write_file(dir / "a.safetensors", llmctl::test::safetensors_file({{"w", "F32", {2}, 4}}));
  write_file(dir / "b.safetensors", llmctl::test::safetensors_file({{"w", "F32", {2}, 4}}));
  CHECK_THROWS_WITH_AS(read_checkpoint(dir.path()), Contains("tensor 'w' appears in both a.safetensors and b.safetensors"), llmctl::Error);
}

TEST_CASE("PyTorch .bin checkpoints are recognised") {
  TempDir dir;
  write_file(dir / "pytorch_model.bin", "PK");
  const auto checkpoint = read_checkpoint(dir.path());
  CHECK(checkpoint.format == CheckpointFormat::pytorch_bin);
  CHECK(checkpoint.file_bytes == 2);
}
