#pragma once

#include "runtime/sequence.hpp"

#include <cstdint>
#include <optional>
#include <span>
#include <unordered_map>
#include <vector>

namespace llmctl::engine {

using BlockId = std::int32_t;

// The paged KV cache's bookkeeping (the memory itself belongs to the backend): a pool of fixed-size
// blocks, each sequence's block table, reference counts for blocks that sequences share, and the prefix
// cache. A full block is keyed by a hash chained over every token before it, so equal prefixes map to
// equal keys. Blocks whose count drops to zero stay cached and join the back of a free queue; new blocks
// come from its front, evicting the least recently freed cached block first.
//
// Invariants (check_invariants): a block is in the free queue exactly when no sequence holds it; its
// reference count equals the number of block tables holding it; every hash in the cache names a block
// carrying that hash.
class BlockManager {
 public:
  BlockManager(std::int64_t num_blocks, std::int64_t block_size, bool enable_prefix_caching);

  std::int64_t block_size() const { return block_size_; }
  std::int64_t num_blocks() const { return static_cast<std::int64_t>(blocks_.size()); }
  std::int64_t num_free_blocks() const { return free_count_; }

  // The longest run of cached full blocks at the start of `sequence` (which holds no blocks yet), leaving
  // at least its last token to compute. Nothing changes until allocate() takes them.
  std::vector<BlockId> find_cached_prefix(const Sequence& sequence);

  // Makes `sequence`'s block table cover `num_tokens` tokens, starting with `cached_prefix` when the
  // table is empty, and caches the blocks those tokens fill. Returns false, changing nothing, when the
  // free pool is too small.
  bool allocate(const Sequence& sequence, std::int64_t num_tokens, std::span<const BlockId> cached_prefix = {});

  // Releases the sequence's blocks (last block first into the free queue, so the end of a sequence is
  // evicted before its shared beginning).
  void free(SequenceId id);

  std::span<const BlockId> block_table(SequenceId id) const;

  // Throws std::logic_error describing the first broken invariant.
  void check_invariants() const;

 private:
  struct Block {
    std::int32_t ref_count = 0;
    std::optional<std::uint64_t> hash;
    BlockId prev = -1;  // free queue links
    BlockId next = -1;
    bool free = true;
  };
  struct Table {
    std::vector<BlockId> blocks;
    std::vector<std::uint64_t> hashes;  // chained hashes of the sequence's full blocks, computed so far
    std::size_t num_cached_blocks = 0;  // blocks already offered to the prefix cache
  };

  std::uint64_t block_hash(const Sequence& sequence, std::vector<std::uint64_t>& hashes, std::size_t index) const;
  void push_free(BlockId id);
  void remove_free(BlockId id);
  BlockId pop_free();

  std::int64_t block_size_;
  bool prefix_caching_;
  std::uint64_t seed_;  // the parent hash of a first block
  std::vector<Block> blocks_;
  BlockId free_head_ = -1;
  BlockId free_tail_ = -1;
  std::int64_t free_count_ = 0;
  std::unordered_map<std::uint64_t, BlockId> cached_;
  std::unordered_map<SequenceId, Table> tables_;
};

}  // namespace llmctl::engine
