// llmctl-serve: the OpenAI-compatible HTTP server (vllm serve). It listens before the model loads, so
// that /health answers 503 until the engine is ready; SIGTERM or SIGINT stop new connections, let the
// requests in flight finish, then exit 0.
#include "api/reasoning_parser.hpp"
#include "api/server_metrics.hpp"
#include "api/tool_call_parser.hpp"
#include "common/error.hpp"
#include "common/log.hpp"
#include "common/model_argument.hpp"
#include "model/generation_config.hpp"
#include "serve/openai_server.hpp"
#include "serve/serve_cli.hpp"

#include <fmt/format.h>

#include <atomic>
#include <chrono>
#include <condition_variable>
#include <csignal>
#include <cstdlib>
#include <mutex>
#include <pthread.h>
#include <thread>

namespace {

using namespace llmctl;

// The model author's sampling defaults, as vLLM's --generation-config reads them.
std::optional<engine::GenerationConfig> generation_defaults(const std::string& flag, const std::filesystem::path& model) {
  if (flag == "vllm") return std::nullopt;
  if (flag == "auto") return engine::load_generation_config(model);
  auto config = engine::load_generation_config(flag);
  if (!config) throw Error(fmt::format("--generation-config {}: no generation_config.json in that folder", flag));
  return config;
}

std::string api_key(const std::string& flag) {
  if (!flag.empty()) return flag;
  for (const char* name : {"LLMCTL_API_KEY", "VLLM_API_KEY"})
    if (const char* value = std::getenv(name); value && *value) return value;
  return {};
}

// vLLM's stats line every 10 seconds, at debug level once two intervals in a row were idle.
class StatsLogger {
 public:
  explicit StatsLogger(const engine::EngineClient& client)
      : client_(client), thread_([this](std::stop_token stop) { run(stop); }) {}

 private:
  void run(const std::stop_token& stop) {
    std::mutex mutex;
    std::condition_variable_any wake;
    auto previous = client_.stats();
    auto then = std::chrono::steady_clock::now();
    bool was_idle = false;
    for (;;) {
      std::unique_lock lock(mutex);
      if (wake.wait_for(lock, stop, std::chrono::seconds(10), [] { return false; }) || stop.stop_requested()) return;
      const auto now = client_.stats();
      const auto at = std::chrono::steady_clock::now();
      const double seconds = std::chrono::duration<double>(at - then).count();
      const bool idle = api::idle_interval(previous, now, seconds);
      const std::string line = api::stats_line(previous, now, seconds);
      if (idle && was_idle) log::debug("{}", line);
      else log::info("{}", line);
      was_idle = idle;
      previous = now;
      then = at;
    }
  }

  const engine::EngineClient& client_;
  std::jthread thread_;
};

}  // namespace

int main(int argc, char** argv) {
  cli::ServeCommand command;
  return cli::run(command, argc, argv, [&] {
    const auto& o = command.options;
    if (o.model.empty()) throw Error("no model: give MODEL (a folder or a hub id such as Qwen/Qwen2.5-7B-Instruct)");
    if (o.enable_auto_tool_choice && o.tool_call_parser.empty())
      throw Error("--enable-auto-tool-choice needs --tool-call-parser");

    // Signals go to one thread, which stops the server; every other thread starts with them blocked.
    sigset_t signals;
    sigemptyset(&signals);
    for (const int s : {SIGINT, SIGTERM, SIGUSR1}) sigaddset(&signals, s);
    pthread_sigmask(SIG_BLOCK, &signals, nullptr);
    std::signal(SIGPIPE, SIG_IGN);

    const std::filesystem::path folder = cli::resolve_model_argument(o.model, o.engine.dummy_weights());
    auto config = cli::engine_config(o.engine, folder);
    config.tokenizer = engine::load_model_tokenizer(folder);
    config.capture_graphs_at_start = true;  // no request waits for a capture

    serve::ServerState state;
    state.served_model_names = o.served_model_names.empty() ? std::vector<std::string>{o.model} : o.served_model_names;
    state.model_root = o.model;
    state.created = std::chrono::duration_cast<std::chrono::seconds>(std::chrono::system_clock::now().time_since_epoch()).count();
    state.tokenizer = config.tokenizer;
    state.tokenizer_config = engine::load_tokenizer_config(folder);
    try {
      state.chat_template.emplace(engine::ChatTemplate::for_model(
          state.tokenizer_config, o.chat_template.empty() ? std::nullopt : std::optional(o.chat_template)));
    } catch (const Error& e) {
      if (!o.chat_template.empty()) throw;
      log::warning("no chat template: /v1/chat/completions needs one per request ({})", e.what());
    }
    if (const auto generation = generation_defaults(o.generation_config, folder)) state.defaults.generation = *generation;
    state.defaults.max_logprobs = o.max_logprobs;
    state.parsers.reasoning = o.reasoning_parser;
    if (o.enable_auto_tool_choice) state.parsers.tool_call = o.tool_call_parser;
    state.api_key = api_key(o.api_key);
    state.log_requests = !o.disable_log_requests;

    serve::OpenAiServer server(state);
    const int port = server.bind(o.host, o.port);
    log::info("Starting llmctl API server on http://{}:{}", o.host, port);
    std::thread http([&] { server.listen(); });
    std::atomic<bool> stopping = false;
    std::thread signal_waiter([&] {
      int signal = 0;
      sigwait(&signals, &signal);
      if (signal == SIGUSR1) return;  // the server ended by itself
      stopping = true;
      log::info("Shutting down: no new connections; requests in flight finish first");
      server.stop();
      sigwait(&signals, &signal);
      if (signal != SIGUSR1) {
        log::warning("second signal: exiting now");
        std::_Exit(1);
      }
    });
    auto end_threads = [&] {
      server.stop();
      http.join();
      pthread_kill(signal_waiter.native_handle(), SIGUSR1);
      signal_waiter.join();
    };

    std::unique_ptr<engine::EngineClient> client;
    try {
      client = std::make_unique<engine::EngineClient>(config);
    } catch (...) {
      end_threads();
      throw;
    }
    state.max_model_len = client->engine().limits().max_model_len;
    state.metrics = std::make_unique<api::ServerMetrics>(state.served_model_names.front(), state.max_model_len);
    state.client.store(client.get());
    if (!stopping) log::info("Application startup complete: serving {} at http://{}:{}", state.served_model_names.front(), o.host, port);
    {
      std::optional<StatsLogger> stats;
      if (!o.disable_log_stats) stats.emplace(*client);
      http.join();  // returns once stopped and every request in flight has been answered
      pthread_kill(signal_waiter.native_handle(), SIGUSR1);
      signal_waiter.join();
    }
    state.client.store(nullptr);
    if (stopping) log::info("Stopped");
  });
}
