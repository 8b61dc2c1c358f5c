#include "runtime/step_batch.hpp"

namespace llmctl::engine {

StepBatch padded_decode_batch(const StepBatch& batch, std::int64_t tokens) {
  StepBatch padded = batch;
  const auto size = static_cast<std::size_t>(tokens);
  for (auto t = static_cast<std::int32_t>(batch.num_tokens()); t < tokens; ++t) {
    padded.query_start.push_back(t + 1);
    padded.logit_rows.push_back(t);
  }
  padded.token_ids.resize(size, 0);
  padded.positions.resize(size, 0);
  padded.slot_mapping.resize(size, -1);
  padded.context_lens.resize(size, 1);
  padded.block_tables.resize(size * static_cast<std::size_t>(batch.max_blocks_per_seq), 0);
  return padded;
}

}  // namespace llmctl::engine
