#include "runtime/block_manager.hpp"

#include "common/splitmix.hpp"

#include <fmt/format.h>

#include <random>
#include <stdexcept>

namespace llmctl::engine {
namespace {

std::uint64_t mix(std::uint64_t x) { return splitmix64(x + kSplitmixGamma); }

}  // namespace

BlockManager::BlockManager(std::int64_t num_blocks, std::int64_t block_size, bool enable_prefix_caching)
    : block_size_(block_size), prefix_caching_(enable_prefix_caching), blocks_(static_cast<std::size_t>(num_blocks)) {
  // A random root, as vLLM's NONE_HASH: cache keys cannot be predicted from outside the process.
  seed_ = (static_cast<std::uint64_t>(std::random_device{}()) << 32) ^ std::random_device{}();
  for (BlockId id = 0; id < static_cast<BlockId>(num_blocks); ++id) push_free(id);
}

std::uint64_t BlockManager::block_hash(const Sequence& sequence, std::vector<std::uint64_t>& hashes,
                                       std::size_t index) const {
  while (hashes.size() <= index) {
    const std::size_t i = hashes.size();
    std::uint64_t h = i == 0 ? seed_ : hashes[i - 1];
    for (std::int64_t t = 0; t < block_size_; ++t)
      h = mix(h ^ static_cast<std::uint32_t>(sequence.tokens[i * static_cast<std::size_t>(block_size_) + static_cast<std::size_t>(t)]));
    hashes.push_back(h);
  }
  return hashes[index];
}

std::vector<BlockId> BlockManager::find_cached_prefix(const Sequence& sequence) {
  std::vector<BlockId> prefix;
  if (!prefix_caching_) return prefix;
  auto& table = tables_[sequence.id];
  const auto candidates = static_cast<std::size_t>((sequence.num_tokens() - 1) / block_size_);
  for (std::size_t i = 0; i < candidates; ++i) {
    const auto it = cached_.find(block_hash(sequence, table.hashes, i));
    if (it == cached_.end()) break;
    prefix.push_back(it->second);
  }
  return prefix;
}

bool BlockManager::allocate(const Sequence& sequence, std::int64_t num_tokens, std::span<const BlockId> cached_prefix) {
  auto& table = tables_[sequence.id];
  if (!table.blocks.empty()) cached_prefix = {};
  const std::int64_t required = (num_tokens + block_size_ - 1) / block_size_;
  const std::int64_t have = static_cast<std::int64_t>(table.blocks.size() + cached_prefix.size());
  const std::int64_t fresh = std::max<std::int64_t>(0, required - have);
  std::int64_t reclaimed = 0;  // cached blocks that leave the free queue when taken
  for (const BlockId id : cached_prefix) reclaimed += blocks_[static_cast<std::size_t>(id)].free ? 1 : 0;
  if (fresh > free_count_ - reclaimed) return false;

  for (const BlockId id : cached_prefix) {
    auto& block = blocks_[static_cast<std::size_t>(id)];
    if (block.free) remove_free(id);
    ++block.ref_count;
    table.blocks.push_back(id);
  }
  table.num_cached_blocks = std::max(table.num_cached_blocks, cached_prefix.size());
  for (std::int64_t i = 0; i < fresh; ++i) {
    const BlockId id = pop_free();
    auto& block = blocks_[static_cast<std::size_t>(id)];
    if (block.hash) {  // evict its old content from the prefix cache
      cached_.erase(*block.hash);
      block.hash.reset();
    }
    block.ref_count = 1;
    table.blocks.push_back(id);
  }

  if (prefix_caching_) {
    // Blocks these tokens fill can serve other sequences from the next step on (and in this one: every
    // token's keys and values are written before any token attends). A block with a token still drawn on
    // the device waits for a later call, when its hash can be known.
    const auto full = static_cast<std::size_t>(std::min(num_tokens, sequence.num_known_tokens()) / block_size_);
    for (std::size_t i = table.num_cached_blocks; i < full; ++i) {
      const auto h = block_hash(sequence, table.hashes, i);
      auto& block = blocks_[static_cast<std::size_t>(table.blocks[i])];
      if (!block.hash && cached_.emplace(h, table.blocks[i]).second) block.hash = h;
    }
    table.num_cached_blocks = std::max(table.num_cached_blocks, full);
  }
  return true;
}

void BlockManager::free(SequenceId id) {
  const auto it = tables_.find(id);
  if (it == tables_.end()) return;
  const auto& table = it->second.blocks;
  for (auto block = table.rbegin(); block != table.rend(); ++block)
    if (--blocks_[static_cast<std::size_t>(*block)].ref_count == 0) push_free(*block);
  tables_.erase(it);
}

std::span<const BlockId> BlockManager::block_table(SequenceId id) const {
  const auto it = tables_.find(id);
  if (it == tables_.end()) return {};
  return it->second.blocks;
}

void BlockManager::push_free(BlockId id) {
  auto& block = blocks_[static_cast<std::size_t>(id)];
  block.free = true;
  block.prev = free_tail_;
  block.next = -1;
  if (free_tail_ >= 0)
    blocks_[static_cast<std::size_t>(free_tail_)].next = id;
  else
    free_head_ = id;
  free_tail_ = id;
  ++free_count_;
}

void BlockManager::remove_free(BlockId id) {
  auto& block = blocks_[static_cast<std::size_t>(id)];
  if (block.prev >= 0) blocks_[static_cast<std::size_t>(block.prev)].next = block.next; else free_head_ = block.next;
  if (block.next >= 0) blocks_[static_cast<std::size_t>(block.next)].prev = block.prev; else free_tail_ = block.prev;
  block.prev = block.next = -1;
  block.free = false;
  --free_count_;
}

BlockId BlockManager::pop_free() {
  const BlockId id = free_head_;
  remove_free(id);
  return id;
}

void BlockManager::check_invariants() const {
  auto fail = [](const std::string& what) { throw std::logic_error("block manager: " + what); };
  std::vector<std::int32_t> holders(blocks_.size(), 0);
  for (const auto& [id, table] : tables_)
    for (const BlockId block : table.blocks) {
      if (block < 0 || block >= num_blocks()) fail(fmt::format("sequence {} holds block {}", id, block));
      ++holders[static_cast<std::size_t>(block)];
    }
  std::int64_t listed = 0;
  BlockId previous = -1;
  for (BlockId id = free_head_; id >= 0; id = blocks_[static_cast<std::size_t>(id)].next) {
    const auto& block = blocks_[static_cast<std::size_t>(id)];
    if (!block.free || block.prev != previous) fail(fmt::format("free queue is broken at block {}", id));
    if (++listed > num_blocks()) fail("free queue has a cycle");
    previous = id;
  }
  if (listed != free_count_ || previous != free_tail_) fail("free queue length or tail is wrong");
  for (std::size_t i = 0; i < blocks_.size(); ++i) {
    const auto& block = blocks_[i];
    if (block.ref_count != holders[i])
      fail(fmt::format("block {} has reference count {} but {} holders", i, block.ref_count, holders[i]));
    if (block.free != (holders[i] == 0)) fail(fmt::format("block {} is free={} with {} holders", i, block.free, holders[i]));
    if (block.hash) {
      const auto it = cached_.find(*block.hash);
      if (it == cached_.end() || it->second != static_cast<BlockId>(i)) fail(fmt::format("block {}'s hash is not cached to it", i));
    }
  }
  for (const auto& [hash, id] : cached_)
    if (blocks_[static_cast<std::size_t>(id)].hash != hash) fail(fmt::format("cache entry names block {} with another hash", id));
}

}  // namespace llmctl::engine
