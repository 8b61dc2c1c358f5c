#include "libhub/rate_limiter.hpp"

#include <thread>

namespace llmctl::hub {

void RateLimiter::wait() const {
  for (;;) {
    Clock::time_point until;
    {
      std::lock_guard lock(mutex_);
      until = not_before_;
    }
    if (Clock::now() >= until) return;
    std::this_thread::sleep_until(until);
  }
}

void RateLimiter::hold_for(std::chrono::milliseconds delay) {
  std::lock_guard lock(mutex_);
  not_before_ = std::max(not_before_, Clock::now() + delay);
}

}  // namespace llmctl::hub
