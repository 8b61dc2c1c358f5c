#include "runtime/block_manager.hpp"

#include <doctest/doctest.h>

#include <random>

using namespace llmctl::engine;

namespace {

Sequence make_sequence(SequenceId id, std::vector<TokenId> tokens) {
  Sequence s;
  s.id = id;
  s.prompt_len = static_cast<std::int64_t>(tokens.size());
  s.tokens = std::move(tokens);
  return s;
}

std::vector<TokenId> range(TokenId first, int count) {
  std::vector<TokenId> tokens;
  for (int i = 0; i < count; ++i) tokens.push_back(first + i);
  return tokens;
}

}  // namespace

TEST_CASE("blocks are allocated as tokens need them and all come back when freed") {
  BlockManager blocks(8, 4, true);
  const auto a = make_sequence(1, range(0, 10));
  CHECK(blocks.allocate(a, 10));
  CHECK(blocks.block_table(1).size() == 3);
  CHECK(blocks.num_free_blocks() == 5);
  CHECK(blocks.allocate(a, 12));  // still 3 blocks
  CHECK(blocks.block_table(1).size() == 3);
  blocks.check_invariants();
  const auto b = make_sequence(2, range(100, 40));
  CHECK_FALSE(blocks.allocate(b, 40));  // needs 10: refused without a change
  CHECK(blocks.block_table(2).empty());
  CHECK(blocks.num_free_blocks() == 5);
  blocks.free(1);
  CHECK(blocks.num_free_blocks() == 8);
  blocks.check_invariants();
}

TEST_CASE("a shared prefix is found in the cache, shared by reference count, and never includes the last token") {
  BlockManager blocks(16, 4, true);
  const auto a = make_sequence(1, range(0, 12));
  REQUIRE(blocks.allocate(a, 12));
  const auto table_a = std::vector<BlockId>(blocks.block_table(1).begin(), blocks.block_table(1).end());

  auto b_tokens = range(0, 10);
  b_tokens.push_back(77);  // diverges inside the third block
  const auto b = make_sequence(2, b_tokens);
  const auto prefix = blocks.find_cached_prefix(b);
  CHECK(prefix == std::vector<BlockId>{table_a[0], table_a[1]});
  REQUIRE(blocks.allocate(b, 11, prefix));
  CHECK(blocks.block_table(2)[0] == table_a[0]);
  CHECK(blocks.block_table(2)[2] != table_a[2]);
  blocks.check_invariants();

  // A prompt equal to a cached one still computes its last token: only the full blocks before it hit.
  const auto c = make_sequence(3, range(0, 12));
  CHECK(blocks.find_cached_prefix(c).size() == 2);
  // A different first block means no hit at all, even if later blocks match (hashes are chained).
  auto d_tokens = range(0, 12);
  d_tokens[0] = 99;
  CHECK(blocks.find_cached_prefix(make_sequence(4, d_tokens)).empty());

  blocks.free(1);
  blocks.free(2);
  blocks.check_invariants();
  // Freed blocks stay cached until reused.
  CHECK(blocks.find_cached_prefix(c).size() == 2);
}

TEST_CASE("cached blocks are evicted least recently freed first, and the end of a sequence before its start") {
  BlockManager blocks(4, 2, true);
  const auto a = make_sequence(1, range(0, 4));  // 2 full blocks
  REQUIRE(blocks.allocate(a, 4));
  blocks.free(1);
  // Taking two fresh blocks evicts the two never-used ones first.
  const auto b = make_sequence(2, range(50, 4));
  REQUIRE(blocks.allocate(b, 4));
  CHECK(blocks.find_cached_prefix(make_sequence(3, range(0, 5))).size() == 2);
  // One more block must evict one of a's: its last block goes first, so its first still hits.
  const auto c = make_sequence(4, range(80, 2));
  REQUIRE(blocks.allocate(c, 2));
  CHECK(blocks.find_cached_prefix(make_sequence(5, range(0, 5))).size() == 1);
  blocks.check_invariants();
}

TEST_CASE("without prefix caching nothing is ever found") {
  BlockManager blocks(8, 4, false);
  const auto a = make_sequence(1, range(0, 12));
  REQUIRE(blocks.allocate(a, 12));
  CHECK(blocks.find_cached_prefix(make_sequence(2, range(0, 12))).empty());
}

TEST_CASE("no block leaks or broken invariants after a random mix of allocate, grow, free and preempt") {
  std::mt19937 random(7);
  for (int round = 0; round < 20; ++round) {
    BlockManager blocks(64, 4, true);
    std::vector<Sequence> live;
    SequenceId next = 1;
    int hits = 0;
    for (int op = 0; op < 400; ++op) {
      const int kind = static_cast<int>(random() % 4);
      if (kind == 0 || live.empty()) {
        // Prompts drawn from a few shared prefixes, so the cache is hit.
        auto tokens = range(static_cast<TokenId>(random() % 3) * 1000, static_cast<int>(random() % 24) + 1);
        for (auto& t : tokens) t += (random() % 5 == 0) ? 1 : 0;
        auto s = make_sequence(next++, tokens);
        const auto prefix = blocks.find_cached_prefix(s);
        hits += static_cast<int>(prefix.size());
        if (blocks.allocate(s, s.num_tokens(), prefix)) live.push_back(s); else blocks.free(s.id);
      } else if (kind == 1) {
        auto& s = live[random() % live.size()];
        s.tokens.push_back(static_cast<TokenId>(random() % 50));
        if (!blocks.allocate(s, s.num_tokens())) {  // out of blocks: preempt it as the scheduler would
          blocks.free(s.id);
          live.erase(live.begin() + (&s - live.data()));
        }
      } else {
        const auto i = random() % live.size();
        blocks.free(live[i].id);
        live.erase(live.begin() + static_cast<std::ptrdiff_t>(i));
      }
      blocks.check_invariants();
    }
    for (const auto& s : live) blocks.free(s.id);
    blocks.check_invariants();
    CHECK(blocks.num_free_blocks() == 64);
    CHECK(hits > 0);
  }
}
