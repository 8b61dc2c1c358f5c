#include "serve/request_timing.hpp"

namespace llmctl::serve {

RequestTiming::RequestTiming(api::ServerMetrics& metrics, const std::vector<std::string>& request_ids, int n,
                             std::int64_t max_tokens)
    : metrics_(metrics), arrival_(Clock::now()) {
  for (const auto& id : request_ids) {
    auto& entry = requests_[id];
    entry.record.n = n;
    entry.record.max_tokens = max_tokens;
  }
}

void RequestTiming::observe(const engine::RequestOutput& output) {
  const auto it = requests_.find(output.request_id);
  if (it == requests_.end() || it->second.done) return;
  auto& entry = it->second;
  const auto now = Clock::now();
  std::int64_t tokens = 0;
  for (const auto& update : output.updates) {
    tokens += static_cast<std::int64_t>(update.token_ids.size());
    if (update.finish_reason) entry.record.finished_reason = engine::finish_reason_name(*update.finish_reason);
  }
  if (tokens > 0) {
    if (entry.record.ttft_seconds < 0) entry.record.ttft_seconds = std::chrono::duration<double>(now - arrival_).count();
    else entry.record.inter_token_seconds.push_back(std::chrono::duration<double>(now - entry.last_token).count());
    entry.last_token = now;
    entry.record.generation_tokens += tokens;
  }
  entry.record.prompt_tokens = output.num_prompt_tokens;
  if (output.finished) {
    entry.done = true;
    entry.record.e2e_seconds = std::chrono::duration<double>(now - arrival_).count();
    metrics_.record(entry.record);
  }
}

}  // namespace llmctl::serve
