#pragma once

#include "runtime/block_manager.hpp"
#include "runtime/sequence.hpp"

#include <cstdint>
#include <deque>
#include <vector>

namespace llmctl::engine {

struct SchedulerLimits {
  std::int64_t max_num_seqs;
  std::int64_t max_num_batched_tokens;
};

struct ScheduledSequence {
  Sequence* sequence;
  std::int64_t num_new_tokens;  // tokens computed this step, from sequence->num_computed_tokens on
};

// vLLM V1's scheduler: no prefill or decode phases, only sequences that have tokens not yet computed. A
// step gives its token budget first to running sequences in arrival order (a decode needs one token, an
// unfinished prefill the rest of its prompt, chunked to the budget), then to waiting ones, whose cached
// prefix is reused. When blocks run out, the most recently started running sequence is preempted: its
// blocks are freed and it waits again, to be recomputed (mostly from the prefix cache) later. A sequence
// whose token drawn last (maybe still on the device) is its last by length is left out.
class Scheduler {
 public:
  Scheduler(SchedulerLimits limits, BlockManager& blocks);

  void add(Sequence* sequence);     // joins the waiting queue
  void remove(Sequence* sequence);  // finished or aborted: leaves its queue and frees its blocks

  // Sequences to compute this step, in batch order. Empty when nothing can run, or when every running
  // sequence waits for its last token.
  std::vector<ScheduledSequence> schedule();

  bool empty() const { return running_.empty() && waiting_.empty(); }
  std::size_t num_running() const { return running_.size(); }
  std::size_t num_waiting() const { return waiting_.size(); }
  std::int64_t num_preemptions() const { return preemptions_; }
  // Full prompt blocks looked up in the prefix cache as sequences started, and those found.
  std::int64_t prefix_cache_queries() const { return prefix_queries_; }
  std::int64_t prefix_cache_hits() const { return prefix_hits_; }

  // Throws std::logic_error when a running sequence's blocks do not cover its computed tokens, a waiting
  // one holds blocks, or the block manager's own invariants fail.
  void check_invariants() const;

 private:
  void preempt(Sequence* sequence);

  SchedulerLimits limits_;
  BlockManager& blocks_;
  std::vector<Sequence*> running_;
  std::deque<Sequence*> waiting_;
  std::int64_t preemptions_ = 0;
  std::int64_t prefix_queries_ = 0;
  std::int64_t prefix_hits_ = 0;
};

}  // namespace llmctl::engine
