#pragma once

#include "tokenizer/bpe_model.hpp"

#include <cstdint>
#include <vector>

namespace llmctl::engine {

// One forward step as a flat batch, built on the host by the engine: the new tokens of every scheduled
// sequence one after the other, and where each sequence's keys and values live in the paged KV cache.
struct StepBatch {
  // Per token.
  std::vector<TokenId> token_ids;  // -(j + 1): row j of the latest draw on the device (Backend::start_sampling)
  std::vector<std::int32_t> positions;
  std::vector<std::int64_t> slot_mapping;  // block * block_size + offset: where the token's K and V go

  // Per sequence, in batch order. Sequence s owns token rows [query_start[s], query_start[s + 1]).
  std::vector<std::int32_t> query_start;   // sequences + 1 entries
  std::vector<std::int32_t> context_lens;  // tokens in the cache once this step's are written
  std::vector<std::int32_t> block_tables;  // sequences x max_blocks_per_seq, unused entries -1
  std::int32_t max_blocks_per_seq = 0;
  std::int32_t block_size = 16;

  // Token rows whose logits are wanted (the last token of each sequence that samples this step).
  std::vector<std::int32_t> logit_rows;

  std::int64_t num_tokens() const { return static_cast<std::int64_t>(token_ids.size()); }
  std::int64_t num_sequences() const { return static_cast<std::int64_t>(context_lens.size()); }
  const std::int32_t* block_table(std::int64_t sequence) const {
    return block_tables.data() + sequence * max_blocks_per_seq;
  }
};

// A decode batch (one token per sequence, each sampled) padded to `tokens` with idle sequences, so that
// a CUDA graph captured for that size can run it: each idle sequence has token 0 at position 0, writes
// no keys and values (slot -1), attends to slot 0 of block 0 and samples a row nobody reads.
StepBatch padded_decode_batch(const StepBatch& batch, std::int64_t tokens);

}  // namespace llmctl::engine
