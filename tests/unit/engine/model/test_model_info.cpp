#include "model/model_info.hpp"

#include "common/error.hpp"
#include "common/json_file.hpp"
#include "support/test_files.hpp"
#include "support/torch_bin.hpp"

#include <doctest/doctest.h>

using namespace llmctl::engine;
using llmctl::test::TempDir;
using doctest::Contains;

TEST_CASE("describe a tiny model: exact count from headers, no layout problems") {
  for (const auto* name : {"tiny-llama3", "tiny-qwen2", "tiny-qwen3", "tiny-mistral"}) {
    CAPTURE(name);
    const auto folder = llmctl::test::kFixtures / "tiny-models" / name;
    const auto info = describe_model(folder);
    CHECK(info.parameters() == llmctl::read_json_file(folder / "expected.json")["num_parameters"].get<std::uint64_t>());
    CHECK(info.parameters() == info.config_parameters);
    CHECK(info.layout_problems.empty());
    const auto json = info.to_json(true);
    CHECK(json["parameters_source"] == "safetensors headers");
    CHECK(json["tensors"].size() == info.checkpoint.tensors.size());
  }
}

TEST_CASE("describe a model saved as pytorch_model.bin: the count comes from its state dict") {
  TempDir dir;
  const auto fixture = llmctl::test::kFixtures / "tiny-models" / "tiny-llama3";
  std::filesystem::copy_file(fixture / "config.json", dir / "config.json");
  const auto expected = llmctl::read_json_file(fixture / "expected.json");
  std::vector<llmctl::test::FakeBinTensor> tensors;
  std::map<std::string, std::string> storages;
  for (const auto& [name, tensor] : expected["tensors"].items()) {
    const auto shape = tensor["shape"].get<std::vector<std::uint64_t>>();
    std::vector<std::uint64_t> stride(shape.size(), 1);
    for (std::size_t i = shape.size(); i-- > 1;) stride[i - 1] = stride[i] * shape[i];
    std::uint64_t numel = 1;
    for (const auto dim : shape) numel *= dim;
    const auto key = std::to_string(storages.size());
    tensors.push_back({name, "BFloat16Storage", key, numel, 0, shape, stride});
    storages[key] = std::string(numel * 2, '\0');
  }
  llmctl::test::write_torch_bin(dir / "pytorch_model.bin", llmctl::test::state_dict_pickle(tensors), storages);
  const auto info = describe_model(dir.path());
  CHECK(info.checkpoint.format == CheckpointFormat::pytorch_bin);
  CHECK(info.parameters() == expected["num_parameters"].get<std::uint64_t>());
  CHECK(info.layout_problems.empty());
  const auto json = info.to_json(true);
  CHECK(json["parameters_source"] == "PyTorch .bin state dicts");
  CHECK(json["tensors"].size() == expected["tensors"].size());
}

TEST_CASE("config-only folders and the path of config.json itself") {
  const auto folder = llmctl::test::kFixtures / "configs" / "meta-llama--Llama-3.1-8B-Instruct";
  const auto info = describe_model(folder / "config.json");
  CHECK(info.folder == folder);
  CHECK(info.parameters() == 8'030'261'248);
  const auto json = info.to_json(false);
  CHECK(json["parameters_source"] == "config.json");
  CHECK(json["max_model_len"] == 131072);
  CHECK(json["rope"]["type"] == "llama3");
  CHECK(json["eos_token_ids"] == nlohmann::json({128001, 128008, 128009}));
  CHECK(json["generation_defaults"]["temperature"] == 0.6);
  CHECK(json["files"].size() == 2);
  CHECK_FALSE(json.contains("tensors"));
}

TEST_CASE("a checkpoint that disagrees with config.json is reported tensor by tensor") {
  TempDir dir;
  const auto folder = llmctl::test::copy_fixture("tiny-models/tiny-llama3", dir);
  auto config = llmctl::read_json_file(folder / "config.json");
  config["intermediate_size"] = 96;
  llmctl::test::write_file(folder / "config.json", config.dump());
  const auto info = describe_model(folder);
  REQUIRE(info.layout_problems.size() == 6);  // gate, up and down of both layers
  CHECK(info.layout_problems.front() == "tensor model.layers.0.mlp.gate_proj.weight has shape [128, 64] but config.json implies [96, 64]");

  config["intermediate_size"] = 128;
  config["num_hidden_layers"] = 4;  // layers 2 and 3 are missing: 18 tensors
  llmctl::test::write_file(folder / "config.json", config.dump());
  const auto deeper = describe_model(folder);
  REQUIRE(deeper.layout_problems.size() == 9);
  CHECK(deeper.layout_problems.front() == "missing tensor model.layers.2.input_layernorm.weight");
  CHECK(deeper.layout_problems.back() == "... and 10 more");
}

TEST_CASE("bad model paths") {
  TempDir dir;
  CHECK_THROWS_WITH_AS(describe_model(dir / "nope"), Contains("nope: no such model folder"), llmctl::Error);
  CHECK_THROWS_WITH_AS(describe_model(dir.path()), Contains("no config.json here"), llmctl::Error);
  llmctl::test::write_file(dir / "weights.bin", "x");
  CHECK_THROWS_WITH_AS(describe_model(dir / "weights.bin"), Contains("not a model folder"), llmctl::Error);
}
