#include "runtime/engine_client.hpp"

#include "common/error.hpp"

#include <fmt/format.h>

#include <algorithm>

namespace llmctl::engine {

std::optional<RequestOutput> RequestStream::next() {
  std::unique_lock lock(mutex_);
  ready_.wait(lock, [&] { return ready(); });
  if (!outputs_.empty()) {
    auto output = std::move(outputs_.front());
    outputs_.pop_front();
    return output;
  }
  if (failed_) throw Error(error_);
  return std::nullopt;
}

bool RequestStream::wait_for(std::chrono::milliseconds timeout) {
  std::unique_lock lock(mutex_);
  return ready_.wait_for(lock, timeout, [&] { return ready(); });
}

void RequestStream::push(RequestOutput output) {
  {
    std::lock_guard lock(mutex_);
    if (output.finished) --unfinished_;
    outputs_.push_back(std::move(output));
  }
  ready_.notify_all();
}

void RequestStream::fail(const std::string& message) {
  {
    std::lock_guard lock(mutex_);
    failed_ = true;
    error_ = message.empty() ? "the engine failed" : message;
  }
  ready_.notify_all();
}

EngineClient::EngineClient(const EngineConfig& config)
    : engine_(std::make_unique<Engine>(config)), thread_([this] { run(); }) {}

EngineClient::~EngineClient() {
  {
    std::lock_guard lock(mutex_);
    stopping_ = true;
  }
  wake_.notify_all();
  thread_.join();
}

std::shared_ptr<RequestStream> EngineClient::submit(std::vector<TokenId> prompt, SamplingParams params,
                                                    std::string request_id) {
  std::vector<EngineRequest> requests;
  requests.push_back({std::move(request_id), std::move(prompt), std::move(params)});
  return submit(std::move(requests));
}

std::shared_ptr<RequestStream> EngineClient::submit(std::vector<EngineRequest> requests) {
  if (requests.empty()) throw Error("no request to submit");
  for (const auto& request : requests) engine_->validate(request);
  auto stream = std::make_shared<RequestStream>();
  {
    std::lock_guard lock(mutex_);
    if (failed_) throw Error(fmt::format("the engine has stopped after an error: {}", failure_));
    for (auto& request : requests) {
      if (request.id.empty()) request.id = fmt::format("request-{}", next_id_++);
      const bool taken = streams_.contains(request.id) ||
                         std::count(stream->request_ids_.begin(), stream->request_ids_.end(), request.id) > 0;
      if (taken) throw Error(fmt::format("request id '{}' is already in use", request.id));
      stream->request_ids_.push_back(request.id);
    }
    stream->unfinished_ = requests.size();
    for (auto& request : requests) {
      streams_.emplace(request.id, stream);
      pending_.push_back(std::move(request));
    }
  }
  wake_.notify_all();
  return stream;
}

EngineStats EngineClient::stats() const {
  std::lock_guard lock(mutex_);
  return stats_;
}

bool EngineClient::healthy() const {
  std::lock_guard lock(mutex_);
  return !failed_;
}

void EngineClient::abort(const std::string& request_id) {
  {
    std::lock_guard lock(mutex_);
    pending_aborts_.push_back(request_id);
  }
  wake_.notify_all();
}

void EngineClient::run() {
  for (;;) {
    std::vector<EngineRequest> requests;
    std::vector<std::string> aborts;
    {
      std::unique_lock lock(mutex_);
      wake_.wait(lock, [&] { return stopping_ || !pending_.empty() || !pending_aborts_.empty() || engine_->has_unfinished(); });
      if (stopping_) {
        for (auto& [id, stream] : streams_) stream->fail("the engine is shutting down");
        return;
      }
      requests.swap(pending_);
      aborts.swap(pending_aborts_);
    }
    try {
      for (auto& request : requests) engine_->add(std::move(request));
      for (const auto& id : aborts) engine_->abort(id);
      if (!engine_->has_unfinished()) continue;
      auto outputs = engine_->step();
      {
        std::lock_guard lock(mutex_);
        stats_ = engine_->stats();
      }
      for (auto& output : outputs) {
        std::shared_ptr<RequestStream> stream;
        {
          std::lock_guard lock(mutex_);
          const auto it = streams_.find(output.request_id);
          if (it == streams_.end()) continue;
          stream = it->second;
          if (output.finished) streams_.erase(it);
        }
        stream->push(std::move(output));
      }
    } catch (const std::exception& e) {
      // A failed step leaves the engine in an unknown state: every request ends with the error.
      std::lock_guard lock(mutex_);
      failed_ = true;
      failure_ = e.what();
      for (auto& [id, stream] : streams_) stream->fail(failure_);
      streams_.clear();
      return;
    }
  }
}

}  // namespace llmctl::engine
