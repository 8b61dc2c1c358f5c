#pragma once

#include <functional>
#include <thread>
#include <vector>

namespace llmctl::hub {

// Runs `worker` on `count` threads (this one included) and waits for all of them. Workers take their
// jobs from a shared counter, so each returns when none is left.
inline void run_workers(std::size_t count, const std::function<void()>& worker) {
  std::vector<std::jthread> others;
  for (std::size_t i = 1; i < count; ++i) others.emplace_back(worker);
  worker();
}

}  // namespace llmctl::hub
