#include "model/weight_layout.hpp"

#include "common/error.hpp"
#include "common/json_file.hpp"
#include "support/test_files.hpp"

#include <doctest/doctest.h>

#include <map>

using namespace llmctl::engine;
using llmctl::test::kFixtures;

namespace {

ModelConfig reference(const std::string& name) { return load_model_config(kFixtures / "configs" / name); }

}  // namespace

TEST_CASE("exact parameter counts of the reference models") {
  // The counts of shared/reference/configs/README.md, which reproduce the published ones.
  const std::map<std::string, std::uint64_t> expected = {
      {"Qwen--Qwen2.5-7B-Instruct", 7'615'616'512},
      {"meta-llama--Llama-3.1-8B-Instruct", 8'030'261'248},
      {"Qwen--Qwen3-8B", 8'190'735'360},
      {"mistralai--Mistral-7B-Instruct-v0.3", 7'248'023'552},
      {"deepseek-ai--DeepSeek-R1-Distill-Qwen-7B", 7'615'616'512},
      {"deepseek-ai--DeepSeek-R1-Distill-Llama-8B", 8'030'261'248},
      {"Qwen--Qwen2.5-0.5B-Instruct", 494'032'768},
      {"Qwen--Qwen2.5-32B-Instruct", 32'763'876'352},
      {"meta-llama--Llama-3.1-70B-Instruct", 70'553'706'496},
  };
  for (const auto& [name, count] : expected) {
    CAPTURE(name);
    CHECK(parameter_count(reference(name)) == count);
    CHECK(weight_bytes_per_gpu(reference(name), 1, WeightFormat::bfloat16) == 2 * count);
  }
}

TEST_CASE("expected tensors match what transformers wrote for each tiny model") {
  for (const auto* name : {"tiny-llama3", "tiny-qwen2", "tiny-qwen3", "tiny-mistral"}) {
    CAPTURE(name);
    const auto folder = kFixtures / "tiny-models" / name;
    const auto reference = llmctl::read_json_file(folder / "expected.json");
    const auto tensors = expected_tensors(load_model_config(folder));
    REQUIRE(tensors.size() == reference["tensors"].size());
    for (const auto& tensor : tensors) {
      CAPTURE(tensor.name);
      REQUIRE(reference["tensors"].contains(tensor.name));
      CHECK(reference["tensors"][tensor.name]["shape"].get<std::vector<std::int64_t>>() == tensor.shape);
    }
    CHECK(parameter_count(load_model_config(folder)) == reference["num_parameters"].get<std::uint64_t>());
  }
}

TEST_CASE("tensor parallel sharding") {
  const auto qwen = reference("Qwen--Qwen2.5-7B-Instruct");
  // Column- and row-parallel layers halve, embeddings split by vocabulary, norms replicate: at TP=2
  // the two GPUs together hold the model plus one extra copy of the replicated tensors.
  std::uint64_t replicated = 0;
  for (const auto& tensor : expected_tensors(qwen))
    if (tensor.sharding == Sharding::replicated) replicated += element_count(tensor.shape);
  CHECK(2 * weight_bytes_per_gpu(qwen, 2, WeightFormat::bfloat16) == 2 * (7'615'616'512 + replicated));

  // 28 heads cannot be split 8 ways: vLLM's message.
  CHECK_THROWS_WITH_AS(check_tensor_parallel(qwen, 8),
                       "Total number of attention heads (28) must be divisible by tensor parallel size (8).",
                       llmctl::Error);
  CHECK_NOTHROW(check_tensor_parallel(qwen, 4));

  // Llama-3.1-70B at TP=16: 8 kv heads are replicated so that each GPU still holds one.
  const auto llama = reference("meta-llama--Llama-3.1-70B-Instruct");
  CHECK_NOTHROW(check_tensor_parallel(llama, 16));
  for (const auto& tensor : expected_tensors(llama)) {
    if (tensor.name == "model.layers.0.self_attn.k_proj.weight") {
      CHECK(elements_per_gpu(tensor, llama, 16) == 1ull * 128 * 8192);
      CHECK(elements_per_gpu(tensor, llama, 8) == 1ull * 128 * 8192);
      CHECK(elements_per_gpu(tensor, llama, 2) == 4ull * 128 * 8192);
    }
    if (tensor.name == "model.embed_tokens.weight") {
      // 128256 rows over 16 GPUs, padded to 64 rows each: 8064 rows of 8192.
      CHECK(elements_per_gpu(tensor, llama, 16) == 8064ull * 8192);
    }
  }
}

TEST_CASE("fp8 and int4 shrink only the linear weights") {
  const auto qwen = reference("Qwen--Qwen2.5-7B-Instruct");
  // Linear weights: per layer q, o 3584x3584, k, v 512x3584, gate, up, down 18944x3584.
  const std::uint64_t linear = 28ull * (2 * 3584 * 3584 + 2 * 512 * 3584 + 3ull * 18944 * 3584);
  CHECK(linear == 6'525'288'448);
  const std::uint64_t other = 7'615'616'512 - linear;
  CHECK(weight_bytes_per_gpu(qwen, 1, WeightFormat::fp8) == linear + 28 * 7 * 4 + 2 * other);
  // 4 bits + an fp16 scale and a 4-bit zero per 128 values = 4.15625 bits per weight.
  const double int4 = static_cast<double>(linear) * 4.15625 / 8 + 2.0 * static_cast<double>(other);
  CHECK(static_cast<double>(weight_bytes_per_gpu(qwen, 1, WeightFormat::int4_g128)) == doctest::Approx(int4).epsilon(1e-9));
  CHECK(weight_bytes_per_gpu(qwen, 1, WeightFormat::float32) == 4 * 7'615'616'512ull);
}
