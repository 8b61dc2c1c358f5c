#include "weights/checkpoint.hpp"

#include "common/error.hpp"
#include "common/json_file.hpp"
#include "support/test_files.hpp"
#include "support/torch_bin.hpp"

#include <doctest/doctest.h>

using namespace llmctl::engine;
using llmctl::test::copy_fixture;
using llmctl::test::TempDir;
using llmctl::test::state_dict_pickle;
using llmctl::test::write_file;
using llmctl::test::write_torch_bin;
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

TEST_CASE("PyTorch .bin checkpoints: tensors listed from their pickled state dicts") {
  TempDir dir;
  write_torch_bin(dir / "pytorch_model.bin",
                  state_dict_pickle({{"w", "FloatStorage", "0", 6, 0, {2, 3}, {3, 1}}, {"norm", "BFloat16Storage", "1", 4, 0, {4}, {1}}}),
                  {{"0", std::string(24, '\0')}, {"1", std::string(8, '\0')}});
  const auto checkpoint = read_checkpoint(dir.path());
  CHECK(checkpoint.format == CheckpointFormat::pytorch_bin);
  CHECK(checkpoint.files == std::vector<std::string>{"pytorch_model.bin"});
  CHECK(checkpoint.file_bytes == std::filesystem::file_size(dir / "pytorch_model.bin"));
  REQUIRE(checkpoint.tensors.size() == 2);
  CHECK(checkpoint.tensors[0].info.name == "norm");  // sorted by name
  CHECK(checkpoint.tensors[0].file == "pytorch_model.bin");
  CHECK(checkpoint.tensors[1].info.shape == std::vector<std::uint64_t>{2, 3});
  CHECK(checkpoint.parameter_count() == 10);
  CHECK(checkpoint.parameters_by_dtype() == std::map<DType, std::uint64_t>{{DType::bf16, 4}, {DType::f32, 6}});

  write_file(dir / "pytorch_model.bin", "PK");
  CHECK_THROWS_WITH_AS(read_checkpoint(dir.path()), Contains("pytorch_model.bin: damaged zip archive"), llmctl::Error);
}

TEST_CASE("sharded PyTorch .bin checkpoints are read through their index") {
  TempDir dir;
  write_torch_bin(dir / "pytorch_model-00001-of-00002.bin", state_dict_pickle({{"a", "HalfStorage", "0", 4, 0, {4}, {1}}}),
                  {{"0", std::string(8, '\0')}}, "pytorch_model-00001-of-00002");
  write_torch_bin(dir / "pytorch_model-00002-of-00002.bin", state_dict_pickle({{"b", "HalfStorage", "0", 2, 0, {2}, {1}}}),
                  {{"0", std::string(4, '\0')}});
  nlohmann::json index = {{"metadata", {{"total_size", 12}}},
                          {"weight_map", {{"a", "pytorch_model-00001-of-00002.bin"}, {"b", "pytorch_model-00002-of-00002.bin"}}}};
  write_file(dir / "pytorch_model.bin.index.json", index.dump());
  const auto checkpoint = read_checkpoint(dir.path());
  CHECK(checkpoint.format == CheckpointFormat::pytorch_bin);
  CHECK(checkpoint.files.size() == 2);
  REQUIRE(checkpoint.tensors.size() == 2);
  CHECK(checkpoint.tensors[1].file == "pytorch_model-00002-of-00002.bin");
  CHECK(checkpoint.parameter_count() == 6);

  index["weight_map"]["a"] = "pytorch_model-00002-of-00002.bin";
  write_file(dir / "pytorch_model.bin.index.json", index.dump());
  CHECK_THROWS_WITH_AS(read_checkpoint(dir.path()), Contains("tensor 'a' is listed in pytorch_model-00002-of-00002.bin but that shard does not hold it"),
                       llmctl::Error);
  index["weight_map"]["a"] = "pytorch_model-00003-of-00002.bin";
  write_file(dir / "pytorch_model.bin.index.json", index.dump());
  CHECK_THROWS_WITH_AS(read_checkpoint(dir.path()), Contains("pytorch_model-00003-of-00002.bin: missing checkpoint shard"), llmctl::Error);
}
