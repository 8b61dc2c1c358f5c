#pragma once

#include <chrono>
#include <mutex>

namespace llmctl::hub {

// One limiter shared by every worker of a download: when a hub answers 429, nobody sends anything
// before the time it asked for, instead of each worker hammering it on its own schedule.
class RateLimiter {
 public:
  using Clock = std::chrono::steady_clock;
  // Blocks until requests may go out.
  void wait() const;
  // No request before now + delay (an earlier deadline already set stays if it is later).
  void hold_for(std::chrono::milliseconds delay);

 private:
  mutable std::mutex mutex_;
  Clock::time_point not_before_{};
};

}  // namespace llmctl::hub
