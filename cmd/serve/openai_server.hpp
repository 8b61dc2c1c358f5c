#pragma once

#include "serve/server_state.hpp"

#include <httplib.h>

#include <atomic>
#include <string>

namespace llmctl::serve {

// The HTTP front: vLLM's routes (/health, /version, /v1/models, /v1/completions, /v1/chat/completions,
// /tokenize, /detokenize, /metrics), its API-key rule (only /v1/* is checked) and its error bodies.
class OpenAiServer {
 public:
  explicit OpenAiServer(ServerState& state);

  // Binds HOST:PORT (port 0: any free port); returns the port. Throws llmctl::Error when it cannot.
  int bind(const std::string& host, int port);
  // Serves until stop(); requests in flight when stop() is called run to their end first.
  void listen();
  void stop();

 private:
  void add_routes();

  ServerState& state_;
  httplib::Server http_;
  // httplib's own stop() also cuts the responses being streamed; shutting the listening socket down
  // instead ends listen() once the requests in flight are answered.
  std::atomic<int> listen_fd_ = -1;
};

// Routes of generation (generation_routes.cpp).
void handle_completions(ServerState& state, const httplib::Request& request, httplib::Response& response);
void handle_chat(ServerState& state, const httplib::Request& request, httplib::Response& response);

// Shared by the routes: the JSON body of a POST (ApiError 400 when it is not JSON), the error answer,
// and the loaded engine (ApiError 503 while loading).
nlohmann::ordered_json json_body(const httplib::Request& request);
void send_error(httplib::Response& response, int status, const std::string& message,
                const std::optional<std::string>& param = std::nullopt);
engine::EngineClient& loaded_client(const ServerState& state);
// ApiError 404 "The model `X` does not exist." unless the server serves `model` (absent: the default).
void check_model(const ServerState& state, const std::optional<std::string>& model);

}  // namespace llmctl::serve
