#include "tokenizer/stop_strings.hpp"

#include "common/text.hpp"

#include <algorithm>
#include <utility>

namespace llmctl::engine {

StopStringMatcher::StopStringMatcher(std::vector<std::string> stop_strings, bool include_stop_string)
    : include_stop_string_(include_stop_string) {
  for (auto& stop : stop_strings) {
    if (!stop.empty()) stop_strings_.push_back(std::move(stop));
  }
}

StopStringMatcher::Step StopStringMatcher::push(std::string_view delta, bool may_stop) {
  held_.append(delta);
  if (may_stop) {
    // The stop string that is complete first in the text wins (ties: the one that starts first), which
    // is what a reader going character by character sees, however the text is cut into deltas.
    std::size_t first = std::string::npos, first_end = std::string::npos;
    const std::string* matched = nullptr;
    for (const auto& stop : stop_strings_) {
      const std::size_t at = held_.find(stop);
      if (at == std::string::npos) continue;
      const std::size_t end = at + stop.size();
      if (end < first_end || (end == first_end && at < first)) {
        first = at;
        first_end = end;
        matched = &stop;
      }
    }
    if (matched != nullptr) {
      std::string text = held_.substr(0, include_stop_string_ ? first + matched->size() : first);
      held_.clear();
      return {std::move(text), matched};
    }
  }
  // Hold the longest suffix that a stop string starts with.
  std::size_t hold = 0;
  for (const auto& stop : stop_strings_) hold = std::max(hold, partial_match_at_end(held_, stop));
  std::string text = held_.substr(0, held_.size() - hold);
  held_.erase(0, held_.size() - hold);
  return {std::move(text), nullptr};
}

std::string StopStringMatcher::finish() { return std::exchange(held_, std::string()); }

}  // namespace llmctl::engine
