#include "backend/cuda/kernel_timer.hpp"

#include "common/error.hpp"

namespace llmctl::engine {

KernelTimer::~KernelTimer() {
  for (const auto& p : pending_) free_.insert(free_.end(), {p.start, p.stop});
  for (auto* e : free_) cudaEventDestroy(e);
}

std::size_t KernelTimer::operation(const std::string& name) {
  const auto [it, added] = index_.try_emplace(name, totals_.size());
  if (added) totals_.push_back({name, 0, 0.0});
  return it->second;
}

cudaEvent_t KernelTimer::event() {
  if (free_.empty()) {
    cudaEvent_t e = nullptr;
    if (cudaEventCreate(&e) != cudaSuccess) throw Error("CUDA error creating a timing event");
    return e;
  }
  cudaEvent_t e = free_.back();
  free_.pop_back();
  return e;
}

void KernelTimer::collect() {
  for (const auto& p : pending_) {
    float ms = 0.0f;
    const auto error = cudaEventElapsedTime(&ms, p.start, p.stop);
    free_.insert(free_.end(), {p.start, p.stop});
    if (error != cudaSuccess) throw Error(std::string("CUDA error reading a timing event: ") + cudaGetErrorString(error));
    totals_[p.operation].calls += 1;
    totals_[p.operation].milliseconds += ms;
  }
  pending_.clear();
}

}  // namespace llmctl::engine
