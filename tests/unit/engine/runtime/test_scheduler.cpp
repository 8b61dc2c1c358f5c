#include "runtime/scheduler.hpp"

#include <doctest/doctest.h>

#include <memory>
#include <random>

using namespace llmctl::engine;

namespace {

struct Simulation {
  BlockManager blocks;
  Scheduler scheduler;
  std::vector<std::unique_ptr<Sequence>> sequences;

  Simulation(std::int64_t num_blocks, SchedulerLimits limits) : blocks(num_blocks, 4, true), scheduler(limits, blocks) {}

  Sequence* add(SequenceId id, int prompt_len, TokenId first = 0) {
    auto s = std::make_unique<Sequence>();
    s->id = id;
    for (int i = 0; i < prompt_len; ++i) s->tokens.push_back(first + i);
    s->prompt_len = prompt_len;
    scheduler.add(s.get());
    sequences.push_back(std::move(s));
    return sequences.back().get();
  }

  // What the engine does after the forward pass: computed tokens advance, and a sequence whose tokens
  // are all computed samples one more.
  void complete(const std::vector<ScheduledSequence>& step) {
    for (const auto& [s, n] : step) {
      s->num_computed_tokens += n;
      if (s->num_computed_tokens == s->num_tokens()) s->tokens.push_back(1);
    }
  }
};

}  // namespace

TEST_CASE("running decodes come first, then waiting prefills, chunked to the token budget") {
  Simulation sim(100, {4, 10});
  auto* a = sim.add(1, 3);
  auto step = sim.scheduler.schedule();
  REQUIRE(step.size() == 1);
  CHECK(step[0].num_new_tokens == 3);
  sim.complete(step);
  auto* b = sim.add(2, 25);
  step = sim.scheduler.schedule();
  REQUIRE(step.size() == 2);
  CHECK(step[0].sequence == a);
  CHECK(step[0].num_new_tokens == 1);  // a decode
  CHECK(step[1].sequence == b);
  CHECK(step[1].num_new_tokens == 9);  // the rest of the budget: a chunk of b's prompt
  sim.complete(step);
  step = sim.scheduler.schedule();
  CHECK(step[1].num_new_tokens == 9);
  sim.complete(step);
  step = sim.scheduler.schedule();
  CHECK(step[1].num_new_tokens == 7);  // the prompt's last chunk
  sim.complete(step);
  CHECK(b->num_output_tokens() == 1);
  sim.scheduler.check_invariants();
}

TEST_CASE("max_num_seqs bounds the running set") {
  Simulation sim(100, {2, 100});
  for (SequenceId id = 1; id <= 3; ++id) sim.add(id, 2, static_cast<TokenId>(id * 100));
  const auto step = sim.scheduler.schedule();
  CHECK(step.size() == 2);
  CHECK(sim.scheduler.num_waiting() == 1);
}

TEST_CASE("when blocks run out the newest running sequence is preempted and later recomputed") {
  Simulation sim(6, {4, 100});  // 24 token slots
  auto* a = sim.add(1, 8, 0);
  auto* b = sim.add(2, 8, 100);
  auto step = sim.scheduler.schedule();
  REQUIRE(step.size() == 2);
  sim.complete(step);
  // Each decodes until the 6 blocks do not hold both.
  for (int i = 0; i < 8 && sim.scheduler.num_preemptions() == 0; ++i) {
    step = sim.scheduler.schedule();
    sim.complete(step);
    sim.scheduler.check_invariants();
  }
  CHECK(sim.scheduler.num_preemptions() == 1);
  CHECK(b->num_computed_tokens == 0);
  CHECK(b->num_preemptions == 1);
  CHECK(a->num_preemptions == 0);
  sim.scheduler.remove(a);
  step = sim.scheduler.schedule();
  REQUIRE(step.size() == 1);
  CHECK(step[0].sequence == b);
  // Its prompt blocks are still cached: only the uncached rest is recomputed.
  CHECK(b->num_computed_tokens == 8);
}

TEST_CASE("no block leaks after any mix of finish, abort and preemption") {
  std::mt19937 random(11);
  for (int round = 0; round < 10; ++round) {
    Simulation sim(24, {6, 32});
    SequenceId next = 1;
    std::vector<Sequence*> live;
    for (int tick = 0; tick < 300; ++tick) {
      if (random() % 3 == 0) live.push_back(sim.add(next++, static_cast<int>(random() % 30) + 1, static_cast<TokenId>(random() % 2) * 500));
      const auto step = sim.scheduler.schedule();
      if (!live.empty()) REQUIRE_FALSE(step.empty());
      sim.complete(step);
      for (auto it = live.begin(); it != live.end();) {
        const bool finish = (*it)->num_output_tokens() >= 12;
        const bool abort = random() % 40 == 0;
        if (finish || abort) {
          sim.scheduler.remove(*it);
          it = live.erase(it);
        } else {
          ++it;
        }
      }
      sim.scheduler.check_invariants();
    }
    for (auto* s : live) sim.scheduler.remove(s);
    CHECK(sim.scheduler.empty());
    CHECK(sim.blocks.num_free_blocks() == 24);
    sim.scheduler.check_invariants();
    CHECK(sim.scheduler.num_preemptions() > 0);
  }
}
