#pragma once

#include "runtime/engine.hpp"
#include "runtime/engine_stats.hpp"

#include <chrono>
#include <condition_variable>
#include <deque>
#include <memory>
#include <mutex>
#include <optional>
#include <string>
#include <thread>
#include <vector>

namespace llmctl::engine {

// The outputs of the requests submitted together, in the order the engine thread produces them
// (RequestOutput::request_id tells them apart).
class RequestStream {
 public:
  // Blocks for the next output; nullopt after the last request's last one. Throws llmctl::Error when
  // the engine failed.
  std::optional<RequestOutput> next();
  // Waits at most `timeout` for next() to have something to return without blocking.
  bool wait_for(std::chrono::milliseconds timeout);
  const std::vector<std::string>& request_ids() const { return request_ids_; }

 private:
  friend class EngineClient;
  void push(RequestOutput output);
  void fail(const std::string& message);
  bool ready() const { return !outputs_.empty() || unfinished_ == 0 || failed_; }

  std::vector<std::string> request_ids_;
  std::mutex mutex_;
  std::condition_variable ready_;
  std::deque<RequestOutput> outputs_;
  std::size_t unfinished_ = 0;  // requests whose last output has not been pushed
  bool failed_ = false;
  std::string error_;
};

// The thread-safe front of an Engine: any number of threads submit, stream and abort while one engine
// thread owns the engine (scheduler, block manager, device) and steps whenever there is work.
class EngineClient {
 public:
  explicit EngineClient(const EngineConfig& config);  // loads the model on the calling thread
  ~EngineClient();  // ends every open stream with an error and joins the engine thread
  EngineClient(const EngineClient&) = delete;
  EngineClient& operator=(const EngineClient&) = delete;

  // Validates at once (llmctl::Error for a bad request) and queues the request. An empty id gets a
  // unique one.
  std::shared_ptr<RequestStream> submit(std::vector<TokenId> prompt, SamplingParams params, std::string request_id = {});
  // Several requests with one stream (the prompts of one completions call): all or none are queued.
  std::shared_ptr<RequestStream> submit(std::vector<EngineRequest> requests);
  // Ends the request: its stream gets a final output with finish reason "abort". Unknown ids are ignored.
  void abort(const std::string& request_id);

  const Engine& engine() const { return *engine_; }  // fixed facts only (config, tokenizer, limits)
  EngineStats stats() const;  // as of the engine's latest step
  bool healthy() const;       // false once a step has failed (the engine thread has stopped)

 private:
  void run();

  std::unique_ptr<Engine> engine_;
  mutable std::mutex mutex_;
  std::condition_variable wake_;
  std::vector<EngineRequest> pending_;
  std::vector<std::string> pending_aborts_;
  std::map<std::string, std::shared_ptr<RequestStream>> streams_;  // guarded by mutex_
  std::uint64_t next_id_ = 0;
  bool stopping_ = false;
  bool failed_ = false;  // the engine thread ended early, because of `failure_`
  std::string failure_;
  EngineStats stats_;  // guarded by mutex_
  std::jthread thread_;
};

}  // namespace llmctl::engine
