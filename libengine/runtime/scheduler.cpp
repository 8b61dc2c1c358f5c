#include "runtime/scheduler.hpp"

#include <fmt/format.h>

#include <algorithm>
#include <stdexcept>

namespace llmctl::engine {

Scheduler::Scheduler(SchedulerLimits limits, BlockManager& blocks) : limits_(limits), blocks_(blocks) {}

void Scheduler::add(Sequence* sequence) { waiting_.push_back(sequence); }

void Scheduler::remove(Sequence* sequence) {
  if (const auto it = std::find(running_.begin(), running_.end(), sequence); it != running_.end()) running_.erase(it);
  if (const auto it = std::find(waiting_.begin(), waiting_.end(), sequence); it != waiting_.end()) waiting_.erase(it);
  blocks_.free(sequence->id);
}

void Scheduler::preempt(Sequence* sequence) {
  blocks_.free(sequence->id);
  sequence->num_computed_tokens = 0;
  ++sequence->num_preemptions;
  ++preemptions_;
  waiting_.push_front(sequence);
}

std::vector<ScheduledSequence> Scheduler::schedule() {
  std::vector<ScheduledSequence> scheduled;
  std::int64_t budget = limits_.max_num_batched_tokens;
  bool preempted = false;

  for (std::size_t i = 0; i < running_.size() && budget > 0;) {
    Sequence* sequence = running_[i];
    if (sequence->num_tokens() >= sequence->max_tokens) {  // its last token is drawn: nothing more to compute
      ++i;
      continue;
    }
    const std::int64_t new_tokens = std::min(sequence->num_tokens() - sequence->num_computed_tokens, budget);
    bool allocated = false;
    while (!(allocated = blocks_.allocate(*sequence, sequence->num_computed_tokens + new_tokens))) {
      Sequence* victim = running_.back();
      running_.pop_back();
      preempt(victim);
      preempted = true;
      if (victim == sequence) break;
    }
    if (!allocated) break;  // it was the last running sequence and is waiting again
    scheduled.push_back({sequence, new_tokens});
    budget -= new_tokens;
    ++i;
  }

  // New work only when nothing had to give way: a preemption means memory is already short.
  while (!preempted && !waiting_.empty() && budget > 0 &&
         static_cast<std::int64_t>(running_.size()) < limits_.max_num_seqs) {
    Sequence* sequence = waiting_.front();
    const auto cached = blocks_.find_cached_prefix(*sequence);
    const std::int64_t computed = static_cast<std::int64_t>(cached.size()) * blocks_.block_size();
    const std::int64_t new_tokens = std::min(sequence->num_tokens() - computed, budget);
    if (!blocks_.allocate(*sequence, computed + new_tokens, cached)) break;
    sequence->num_computed_tokens = computed;
    prefix_queries_ += (sequence->num_tokens() - 1) / blocks_.block_size();
    prefix_hits_ += static_cast<std::int64_t>(cached.size());
    if (sequence->num_cached_tokens < 0) sequence->num_cached_tokens = std::min(computed, sequence->prompt_len);
    waiting_.pop_front();
    running_.push_back(sequence);
    scheduled.push_back({sequence, new_tokens});
    budget -= new_tokens;
  }
  return scheduled;
}

void Scheduler::check_invariants() const {
  blocks_.check_invariants();
  for (const Sequence* sequence : running_) {
    const auto covered = static_cast<std::int64_t>(blocks_.block_table(sequence->id).size()) * blocks_.block_size();
    if (covered < sequence->num_computed_tokens)
      throw std::logic_error(fmt::format("scheduler: running sequence {} has {} computed tokens but blocks for {}",
                                         sequence->id, sequence->num_computed_tokens, covered));
  }
  for (const Sequence* sequence : waiting_)
    if (!blocks_.block_table(sequence->id).empty())
      throw std::logic_error(fmt::format("scheduler: waiting sequence {} holds blocks", sequence->id));
}

}  // namespace llmctl::engine
