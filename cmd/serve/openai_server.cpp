#include "serve/openai_server.hpp"

#include "api/api_error.hpp"
#include "api/tokenize_request.hpp"
#include "common/error.hpp"
#include "serve/chat_prompt.hpp"
#include "common/log.hpp"
#include "llmctl/version.hpp"

#include <fmt/format.h>

#include <algorithm>
#include <cctype>

#include <sys/socket.h>

namespace llmctl::serve {
namespace {

constexpr std::size_t kMaxBodyBytes = 64u << 20;  // larger bodies get 413
constexpr int kMaxConnections = 1024;  // each open connection holds a thread while it is served
constexpr std::size_t kMaxRequestsPerConnection = 10000;  // httplib's default of 5 makes clients reconnect

// Compares in time that depends only on the expected key's length, so that timing does not reveal how
// much of a guess was right.
bool same_key(std::string_view given, std::string_view expected) {
  unsigned difference = given.size() == expected.size() ? 0u : 1u;
  for (std::size_t i = 0; i < expected.size(); ++i)
    difference |= static_cast<unsigned char>(expected[i]) ^
                  static_cast<unsigned char>(given.empty() ? 0 : given[i % given.size()]);
  return difference == 0;
}

// vLLM checks only paths under /v1, and accepts the scheme in any case.
bool authorized(const ServerState& state, const httplib::Request& request) {
  if (state.api_key.empty() || request.method == "OPTIONS" || !request.path.starts_with("/v1")) return true;
  const std::string header = request.get_header_value("Authorization");
  const std::string_view scheme = "bearer ";
  if (header.size() < scheme.size()) return false;
  for (std::size_t i = 0; i < scheme.size(); ++i)
    if (std::tolower(static_cast<unsigned char>(header[i])) != scheme[i]) return false;
  return same_key(std::string_view(header).substr(scheme.size()), state.api_key);
}

nlohmann::ordered_json model_card(const ServerState& state, const std::string& name) {
  return {{"id", name},
          {"object", "model"},
          {"created", state.created},
          {"owned_by", "llmctl"},
          {"root", state.model_root},
          {"parent", nullptr},
          {"max_model_len", state.max_model_len},
          {"permission",
           nlohmann::ordered_json::array({{{"id", "modelperm-" + name},
                                           {"object", "model_permission"},
                                           {"created", state.created},
                                           {"allow_create_engine", false},
                                           {"allow_sampling", true},
                                           {"allow_logprobs", true},
                                           {"allow_search_indices", false},
                                           {"allow_view", true},
                                           {"allow_fine_tuning", false},
                                           {"organization", "*"},
                                           {"group", nullptr},
                                           {"is_blocking", false}}})}};
}

void send_json(httplib::Response& response, const nlohmann::ordered_json& body) {
  response.set_content(body.dump(-1, ' ', false, nlohmann::json::error_handler_t::replace), "application/json");
}

void handle_tokenize(ServerState& state, const httplib::Request& request, httplib::Response& response) {
  const auto parsed = api::parse_tokenize_request(json_body(request));
  check_model(state, parsed.model);
  const auto& tokenizer = text_tokenizer(state);
  std::vector<engine::TokenId> ids;
  if (parsed.prompt) {
    ids = tokenizer.encode(*parsed.prompt, parsed.add_special_tokens);
  } else {
    const auto text = render_chat(state, {parsed.messages, parsed.tools, parsed.add_generation_prompt,
                                          parsed.continue_final_message, parsed.chat_template_kwargs, parsed.chat_template});
    ids = tokenizer.encode(text, parsed.add_special_tokens);
  }
  nlohmann::ordered_json body{{"count", ids.size()}, {"max_model_len", state.max_model_len}, {"tokens", ids}};
  if (parsed.return_token_strs) {
    auto strings = nlohmann::ordered_json::array();
    for (const auto id : ids) strings.push_back(tokenizer.id_to_token(id).value_or(""));
    body["token_strs"] = std::move(strings);
  } else {
    body["token_strs"] = nullptr;
  }
  send_json(response, body);
}

void handle_detokenize(ServerState& state, const httplib::Request& request, httplib::Response& response) {
  const auto parsed = api::parse_detokenize_request(json_body(request));
  check_model(state, parsed.model);
  const auto& tokenizer = text_tokenizer(state);
  for (const auto id : parsed.tokens)
    if (static_cast<std::size_t>(id) >= tokenizer.vocab_size())
      throw api::ApiError(400, fmt::format("token id {} is out of vocabulary", id), "tokens");
  send_json(response, {{"prompt", tokenizer.decode(parsed.tokens, false)}});
}

// Routes that need the model: 503 while it loads, and an OpenAI-shaped error for whatever throws.
httplib::Server::Handler guarded(ServerState& state, void (*handler)(ServerState&, const httplib::Request&, httplib::Response&)) {
  return [&state, handler](const httplib::Request& request, httplib::Response& response) {
    try {
      loaded_client(state);
      handler(state, request, response);
    } catch (const api::ApiError& e) {
      send_error(response, e.status(), e.what(), e.param());
    } catch (const Error& e) {
      send_error(response, 400, e.what());
    } catch (const std::exception& e) {
      log::warning("{} {}: internal error: {}", request.method, request.path, e.what());
      send_error(response, 500, e.what());
    }
  };
}

}  // namespace

bool ServerState::serves(const std::string& model) const {
  return std::find(served_model_names.begin(), served_model_names.end(), model) != served_model_names.end();
}

nlohmann::ordered_json json_body(const httplib::Request& request) {
  const auto type = request.get_header_value("Content-Type");
  if (!type.starts_with("application/json"))
    throw api::ApiError(400, "Unsupported Media Type: Only 'application/json' is allowed");
  try {
    return nlohmann::ordered_json::parse(request.body);  // the client's key order reaches the chat template
  } catch (const nlohmann::json::exception& e) {
    throw api::ApiError(400, fmt::format("The request body is not valid JSON: {}", e.what()));
  }
}

void send_error(httplib::Response& response, int status, const std::string& message, const std::optional<std::string>& param) {
  response.status = status;
  send_json(response, api::error_body(status, message, param));
}

engine::EngineClient& loaded_client(const ServerState& state) {
  auto* client = state.client.load();
  if (!client) throw api::ApiError(503, "The model is still loading; try again when /health answers 200");
  return *client;
}

void check_model(const ServerState& state, const std::optional<std::string>& model) {
  if (model && !state.serves(*model)) throw api::ApiError(404, fmt::format("The model `{}` does not exist.", *model), "model");
}

OpenAiServer::OpenAiServer(ServerState& state) : state_(state) {
  http_.new_task_queue = [] { return new httplib::ThreadPool(kMaxConnections); };
  http_.set_socket_options([this](socket_t sock) {  // called for the listening socket
    int yes = 1;
    setsockopt(sock, SOL_SOCKET, SO_REUSEADDR, &yes, sizeof yes);
    listen_fd_ = sock;
  });
  http_.set_payload_max_length(kMaxBodyBytes);
  http_.set_keep_alive_max_count(kMaxRequestsPerConnection);
  add_routes();
}

int OpenAiServer::bind(const std::string& host, int port) {
  const int bound = port == 0 ? http_.bind_to_any_port(host) : (http_.bind_to_port(host, port) ? port : -1);
  if (bound < 0) throw Error(fmt::format("cannot listen on {}:{} (in use, or not an address of this machine)", host, port));
  // Debian's cpp-httplib listens with a backlog of 5, so a burst of clients gets connections reset or
  // retried a second later; listening again raises it.
  ::listen(listen_fd_, SOMAXCONN);
  return bound;
}

void OpenAiServer::listen() { http_.listen_after_bind(); }

void OpenAiServer::stop() {
  if (const int fd = listen_fd_.exchange(-1); fd >= 0) ::shutdown(fd, SHUT_RDWR);
}

void OpenAiServer::add_routes() {
  auto& state = state_;
  http_.set_pre_routing_handler([&state](const httplib::Request& request, httplib::Response& response) {
    if (authorized(state, request)) return httplib::Server::HandlerResponse::Unhandled;
    response.status = 401;
    response.set_content(R"({"error":"Unauthorized"})", "application/json");  // vLLM's body, not OpenAI's shape
    return httplib::Server::HandlerResponse::Handled;
  });
  // Paths and methods nobody serves: FastAPI's bodies.
  http_.set_error_handler([](const httplib::Request&, httplib::Response& response) {
    if (!response.body.empty()) return;
    if (response.status == 404) response.set_content(R"({"detail":"Not Found"})", "application/json");
    if (response.status == 405) response.set_content(R"({"detail":"Method Not Allowed"})", "application/json");
    if (response.status == 413) send_error(response, 413, "The request body is too large");
  });
  http_.Get("/health", [&state](const httplib::Request&, httplib::Response& response) {
    const auto* client = state.client.load();
    response.status = client && client->healthy() ? 200 : 503;
  });
  http_.Get("/version", [](const httplib::Request&, httplib::Response& response) {
    send_json(response, {{"version", kVersion}});
  });
  http_.Get("/v1/models", guarded(state, [](ServerState& s, const httplib::Request&, httplib::Response& response) {
    auto data = nlohmann::ordered_json::array();
    for (const auto& name : s.served_model_names) data.push_back(model_card(s, name));
    send_json(response, {{"object", "list"}, {"data", std::move(data)}});
  }));
  http_.Get("/metrics", guarded(state, [](ServerState& s, const httplib::Request&, httplib::Response& response) {
    response.set_content(s.metrics->render(loaded_client(s).stats()), "text/plain; version=0.0.4; charset=utf-8");
  }));
  http_.Post("/tokenize", guarded(state, handle_tokenize));
  http_.Post("/detokenize", guarded(state, handle_detokenize));
  http_.Post("/v1/completions", guarded(state, handle_completions));
  http_.Post("/v1/chat/completions", guarded(state, handle_chat));
}

}  // namespace llmctl::serve
