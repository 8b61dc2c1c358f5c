#pragma once

#include "runtime/engine.hpp"

#include <condition_variable>
#include <deque>
#include <memory>
#include <mutex>
#include <optional>
#include <string>
#include <thread>
#include <vector>

namespace llmctl::engine {

// The outputs of one submitted request, in order, as the engine thread produces them.
class RequestStream {
 public:
  // Blocks for the next output; nullopt after the last one. Throws llmctl::Error when the engine failed.
  std::optional<RequestOutput> next();
  const std::string& request_id() const { return request_id_; }

 private:
  friend class EngineClient;
  void push(RequestOutput output);
  void fail(const std::string& message);

  std::string request_id_;
  std::mutex mutex_;
  std::condition_variable ready_;
  std::deque<RequestOutput> outputs_;
  bool finished_ = false;
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
  // Ends the request: its stream gets a final output with finish reason "abort". Unknown ids are ignored.
  void abort(const std::string& request_id);

  const Engine& engine() const { return *engine_; }  // fixed facts only (config, tokenizer, limits)

 private:
  void run();

  std::unique_ptr<Engine> engine_;
  std::mutex mutex_;
  std::condition_variable wake_;
  std::vector<EngineRequest> pending_;
  std::vector<std::string> pending_aborts_;
  std::map<std::string, std::shared_ptr<RequestStream>> streams_;  // guarded by mutex_
  std::uint64_t next_id_ = 0;
  bool stopping_ = false;
  bool failed_ = false;  // the engine thread ended early, because of `failure_`
  std::string failure_;
  std::jthread thread_;
};

}  // namespace llmctl::engine
