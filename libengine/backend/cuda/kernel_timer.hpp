#pragma once

#include "backend/backend.hpp"

#include <cuda_runtime_api.h>

#include <string>
#include <unordered_map>
#include <vector>

namespace llmctl::engine {

// GPU time per kind of operation, from a pair of CUDA events recorded around each operation on one
// stream. The events are read once the host has waited for the stream (collect()), so timing adds no
// synchronization of its own.
class KernelTimer {
 public:
  explicit KernelTimer(cudaStream_t stream) : stream_(stream) {}
  ~KernelTimer();
  KernelTimer(const KernelTimer&) = delete;
  KernelTimer& operator=(const KernelTimer&) = delete;

  bool on() const { return on_; }
  void set(bool on) { on_ = on; }

  // Enqueues `launch` between two events counted under `name`.
  template <typename F>
  void time(const std::string& name, F&& launch) {
    const Pending pending{operation(name), event(), event()};
    cudaEventRecord(pending.start, stream_);
    launch();
    cudaEventRecord(pending.stop, stream_);
    pending_.push_back(pending);
  }
  // Adds the elapsed times of the events recorded so far; the stream must have been synchronized.
  void collect();
  std::vector<OperationTime> totals() const { return totals_; }

 private:
  struct Pending {
    std::size_t operation;
    cudaEvent_t start, stop;
  };
  std::size_t operation(const std::string& name);
  cudaEvent_t event();  // a free event, created when none is left

  cudaStream_t stream_;
  bool on_ = false;
  std::vector<cudaEvent_t> free_;
  std::vector<Pending> pending_;
  std::vector<OperationTime> totals_;
  std::unordered_map<std::string, std::size_t> index_;
};

}  // namespace llmctl::engine
