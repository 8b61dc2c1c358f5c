#pragma once

#include "tokenizer/bpe_model.hpp"

#include <cstdint>
#include <limits>
#include <vector>

namespace llmctl::engine {

using SequenceId = std::uint64_t;

// Stands in `Sequence::tokens` for a token drawn on the device that the host does not know yet.
inline constexpr TokenId kPendingToken = -1;

// What the scheduler and the block manager know of one sequence: its tokens and how many of them have
// their keys and values in the cache. A request with n > 1 has n sequences.
struct Sequence {
  SequenceId id = 0;
  std::vector<TokenId> tokens;  // the prompt, then every token generated so far
  std::int64_t num_pending = 0;  // the last of `tokens` that are kPendingToken: drawn, not yet known
  std::int64_t prompt_len = 0;
  std::int64_t max_tokens = std::numeric_limits<std::int64_t>::max();  // it ends by length with this many
  std::int64_t num_computed_tokens = 0;  // back to 0 when preempted: recomputed later
  std::int64_t num_cached_tokens = -1;   // prompt tokens found in the prefix cache when first scheduled
  std::int64_t num_preemptions = 0;

  std::int64_t num_tokens() const { return static_cast<std::int64_t>(tokens.size()); }
  std::int64_t num_known_tokens() const { return num_tokens() - num_pending; }
  std::int64_t num_output_tokens() const { return num_tokens() - prompt_len; }
};

}  // namespace llmctl::engine
