#include "model/decoder_model.hpp"

#include "backend/cpu/cpu_backend.hpp"
#include "support/test_files.hpp"

#include <doctest/doctest.h>

#include <cstring>
#include <string>

using namespace llmctl::engine;

namespace {

constexpr std::int32_t kBlockSize = 16;

// The model of tests/fixtures/generation/llama3 on the CPU, its own KV cache of 8 blocks.
struct Model {
  CpuBackend backend;
  std::unique_ptr<DecoderModel> model;
  std::vector<LayerKvCache> cache;

  Model(const StepLimits& limits, bool graphs) {
    const auto folder = llmctl::test::kFixtures / "generation" / "llama3";
    const auto config = load_model_config(folder);
    model = std::make_unique<DecoderModel>(config, load_model_weights(folder, config, backend), backend, limits, 64, graphs);
    cache = model->allocate_kv_cache(8, kBlockSize);
  }
  std::vector<float> forward(const StepBatch& batch) {
    const Tensor logits = model->forward(batch, cache);
    return {logits.as<float>(), logits.as<float>() + logits.elements()};
  }
  std::string cache_bytes() const {
    std::string bytes;
    for (const auto& layer : cache)
      for (const auto* t : {&layer.keys, &layer.values}) bytes.append(reinterpret_cast<const char*>(t->data), t->bytes());
    return bytes;
  }
};

// Sequences with prompts of `lengths` tokens in blocks 1, 2 and 3 (each fits one block), from `first`
// on: the whole prompt when first is 0, else the one token at position first.
StepBatch step(const std::vector<std::int32_t>& lengths, bool decode) {
  StepBatch batch;
  batch.block_size = kBlockSize;
  batch.max_blocks_per_seq = 1;
  batch.query_start.push_back(0);
  for (std::size_t s = 0; s < lengths.size(); ++s) {
    const std::int32_t block = static_cast<std::int32_t>(s) + 1;
    const std::int32_t begin = decode ? lengths[s] : 0, end = lengths[s] + (decode ? 1 : 0);
    for (std::int32_t p = begin; p < end; ++p) {
      batch.token_ids.push_back((p * 7 + block * 13) % 320);
      batch.positions.push_back(p);
      batch.slot_mapping.push_back(block * kBlockSize + p);
    }
    batch.query_start.push_back(static_cast<std::int32_t>(batch.token_ids.size()));
    batch.context_lens.push_back(end);
    batch.block_tables.push_back(block);
    batch.logit_rows.push_back(static_cast<std::int32_t>(batch.token_ids.size()) - 1);
  }
  return batch;
}

}  // namespace

TEST_CASE("decode steps pad to vLLM's capture sizes within the sequence limit") {
  Model graphs({64, 40, 4}, true);
  CHECK(graphs.model->graph_size(1) == 1);
  CHECK(graphs.model->graph_size(2) == 2);
  CHECK(graphs.model->graph_size(3) == 4);
  CHECK(graphs.model->graph_size(5) == 8);
  CHECK(graphs.model->graph_size(9) == 16);
  CHECK(graphs.model->graph_size(40) == 40);
  CHECK(graphs.model->graph_size(41) == 0);  // past max_sequences: no graph
  CHECK(graphs.model->graph_sizes() == std::vector<std::int64_t>{40, 32, 24, 16, 8, 4, 2, 1});
  Model eager({64, 40, 4}, false);
  CHECK(eager.model->graph_size(1) == 0);
  CHECK(eager.model->graph_sizes().empty());
}

TEST_CASE("graph sizes stop at 512 and skip sizes past max_sequences") {
  Model many({1024, 1024, 4}, true);
  const auto sizes = many.model->graph_sizes();
  REQUIRE(sizes.size() == 3 + 64);
  CHECK(sizes.front() == 512);
  CHECK(sizes[sizes.size() - 4] == 8);
  Model odd({64, 38, 4}, true);  // 37 and 38 pad to 40, past the limit: they run without a graph
  CHECK(odd.model->graph_sizes().front() == 32);
}

TEST_CASE("padded_decode_batch adds idle sequences that write nothing") {
  const auto padded = padded_decode_batch(step({5, 11, 3}, true), 8);
  REQUIRE(padded.num_tokens() == 8);
  CHECK(padded.num_sequences() == 8);
  CHECK(padded.query_start.back() == 8);
  CHECK(padded.logit_rows == std::vector<std::int32_t>{0, 1, 2, 3, 4, 5, 6, 7});
  for (std::int64_t t = 3; t < 8; ++t) {
    CHECK(padded.slot_mapping[static_cast<std::size_t>(t)] == -1);
    CHECK(padded.positions[static_cast<std::size_t>(t)] == 0);
    CHECK(padded.context_lens[static_cast<std::size_t>(t)] == 1);
    CHECK(padded.block_table(t)[0] == 0);
  }
}

TEST_CASE("a padded decode step gives the real rows the logits and KV cache of an unpadded one") {
  // max_sequences 8: three decodes pad to 4; the model with graphs pads, the other does not.
  Model graphs({64, 8, 4}, true), eager({64, 8, 4}, false);
  const std::vector<std::int32_t> lengths{5, 11, 3};
  const auto prefill = step(lengths, false);
  CHECK(graphs.forward(prefill) == eager.forward(prefill));  // not a decode step: no padding either way
  for (int i = 0; i < 3; ++i) {
    auto decode_lengths = lengths;
    for (auto& l : decode_lengths) l += i;
    const auto decode = step(decode_lengths, true);
    const auto padded_logits = graphs.forward(decode);
    CHECK(padded_logits.size() == 3 * 320);
    CHECK(padded_logits == eager.forward(decode));
    CHECK(graphs.cache_bytes() == eager.cache_bytes());
  }
}
