// POST /v1/completions and /v1/chat/completions: parse, tokenize, check the context length, submit the
// call's requests together, then stream SSE chunks or answer once. A client that goes away aborts its
// requests, which frees their KV blocks.
#include "api/api_error.hpp"
#include "api/chat_response.hpp"
#include "api/completion_response.hpp"
#include "api/context_length.hpp"
#include "common/error.hpp"
#include "common/log.hpp"
#include "serve/chat_prompt.hpp"
#include "serve/client_connection.hpp"
#include "serve/openai_server.hpp"
#include "serve/request_timing.hpp"

#include <fmt/format.h>

#include <chrono>
#include <functional>
#include <random>

namespace llmctl::serve {
namespace {

using json = nlohmann::ordered_json;
using namespace std::chrono_literals;

// How often a waiting call checks that its client is still connected.
constexpr auto kDisconnectPoll = 200ms;

std::string random_hex(int digits) {
  thread_local std::mt19937_64 random{std::random_device{}()};
  std::string hex;
  while (static_cast<int>(hex.size()) < digits) hex += fmt::format("{:016x}", random());
  return hex.substr(0, static_cast<std::size_t>(digits));
}

std::int64_t unix_seconds() {
  return std::chrono::duration_cast<std::chrono::seconds>(std::chrono::system_clock::now().time_since_epoch()).count();
}

std::string dump(const json& value) { return value.dump(-1, ' ', false, json::error_handler_t::replace); }

// One call in flight: its requests' stream, how outputs turn into chunks and the final response, and
// the connection it came on.
struct Call {
  Call(engine::EngineClient& engine_client, std::shared_ptr<engine::RequestStream> request_stream,
       api::ServerMetrics& metrics, int n, std::int64_t max_tokens, const httplib::Request& request)
      : client(engine_client),
        stream(std::move(request_stream)),
        timing(metrics, stream->request_ids(), n, max_tokens),
        connection(request) {}

  // The next output (nullopt at the end). A connection found closed (looked at every kDisconnectPoll,
  // busy or not) aborts the call.
  std::optional<engine::RequestOutput> next() {
    for (;;) {
      const bool ready = stream->wait_for(kDisconnectPoll);
      const auto now = std::chrono::steady_clock::now();
      if (!aborted && now - last_check >= kDisconnectPoll) {
        last_check = now;
        if (connection.closed()) abort();
      }
      if (ready) break;
    }
    auto output = stream->next();
    if (output) timing.observe(*output);
    return output;
  }
  void abort() {
    aborted = true;
    for (const auto& id : stream->request_ids()) client.abort(id);
  }
  // After the client went away mid-stream: the engine's last outputs, for the metrics.
  void drain() {
    try {
      while (next()) {}
    } catch (const Error&) {
    }
  }

  engine::EngineClient& client;
  std::shared_ptr<engine::RequestStream> stream;
  RequestTiming timing;
  ClientConnection connection;
  std::chrono::steady_clock::time_point last_check = std::chrono::steady_clock::now();
  bool aborted = false;
  std::function<std::vector<json>(const engine::RequestOutput&)> add;  // records; returns chunks when streaming
  std::function<json()> usage_chunk;  // empty unless stream_options.include_usage
  std::function<json()> response;
};

void respond(std::shared_ptr<Call> call, bool streaming, httplib::Response& response) {
  if (!streaming) {
    try {
      while (auto output = call->next()) call->add(*output);
    } catch (const Error& e) {  // the engine failed
      throw api::ApiError(500, e.what());
    }
    response.set_content(dump(call->response()), "application/json");
    return;
  }
  response.set_header("Cache-Control", "no-cache");
  response.set_chunked_content_provider(
      "text/event-stream",
      [call](std::size_t, httplib::DataSink& sink) {
        auto send = [&](const json& chunk) {
          const std::string event = "data: " + dump(chunk) + "\n\n";
          return sink.write(event.data(), event.size());
        };
        auto finish = [&] {
          const std::string done = "data: [DONE]\n\n";
          sink.write(done.data(), done.size());
          sink.done();
          return true;
        };
        try {
          auto output = call->next();
          if (!output) {
            if (call->usage_chunk) send(call->usage_chunk());
            return finish();
          }
          for (const auto& chunk : call->add(*output)) {
            if (!send(chunk)) {
              call->abort();
              return false;
            }
          }
          return true;
        } catch (const Error& e) {  // the engine failed: the status is already 200, so the error goes in the stream
          send(api::error_body(500, e.what()));
          return finish();
        }
      },
      [call](bool success) {
        if (success) return;
        if (!call->aborted) call->abort();
        call->drain();
      });
}

void log_request(const ServerState& state, const std::string& id, std::size_t prompt_tokens, const engine::SamplingParams& s) {
  if (!state.log_requests) return;
  log::info("Received request {}: prompt tokens {}, params: n={}, max_tokens={}, temperature={}, top_p={}, top_k={}, "
            "min_p={}, seed={}, stop={}",
            id, prompt_tokens, s.n, s.max_tokens, s.temperature, s.top_p, s.top_k, s.min_p,
            s.seed ? std::to_string(*s.seed) : "None", json(s.stop).dump());
}

std::shared_ptr<engine::RequestStream> submit(engine::EngineClient& client, std::vector<engine::EngineRequest> requests) {
  if (!client.healthy()) throw api::ApiError(503, "the engine has stopped after an error");
  return client.submit(std::move(requests));  // llmctl::Error (400) for what only the engine can check
}

}  // namespace

void handle_completions(ServerState& state, const httplib::Request& request, httplib::Response& response) {
  auto& client = loaded_client(state);
  auto parsed = api::parse_completion_request(json_body(request), state.defaults);
  check_model(state, parsed.model);
  std::vector<api::PromptTokens> prompts;
  for (const auto& prompt : parsed.prompts) {
    if (const auto* text = std::get_if<std::string>(&prompt))
      prompts.push_back({*text, text_tokenizer(state).encode(*text, parsed.add_special_tokens)});
    else
      prompts.push_back({std::nullopt, std::get<std::vector<engine::TokenId>>(prompt)});
  }
  for (const auto& prompt : prompts)
    api::check_context_length(state.max_model_len, static_cast<std::int64_t>(prompt.ids.size()), parsed.sampling.max_tokens);

  const std::string id = "cmpl-" + random_hex(32);
  std::vector<engine::EngineRequest> requests;
  std::map<std::string, std::size_t> prompt_of;
  for (std::size_t p = 0; p < prompts.size(); ++p) {
    requests.push_back({fmt::format("{}-{}", id, p), prompts[p].ids, parsed.sampling});
    prompt_of[requests.back().id] = p;
    log_request(state, requests.back().id, prompts[p].ids.size(), parsed.sampling);
  }
  auto call = std::make_shared<Call>(client, submit(client, std::move(requests)), *state.metrics, parsed.sampling.n,
                                     parsed.sampling.max_tokens, request);
  auto builder = std::make_shared<api::CompletionResponse>(
      parsed, api::ResponseHeader{id, parsed.model.value_or(state.served_model_names.front()), unix_seconds()},
      std::move(prompts), state.tokenizer.get());
  call->add = [builder, prompt_of](const engine::RequestOutput& output) {
    return builder->add(prompt_of.at(output.request_id), output);
  };
  if (parsed.stream.include_usage) call->usage_chunk = [builder] { return builder->usage_chunk(); };
  call->response = [builder] { return builder->response(); };
  respond(call, parsed.stream.stream, response);
}

void handle_chat(ServerState& state, const httplib::Request& request, httplib::Response& response) {
  auto& client = loaded_client(state);
  auto parsed = api::parse_chat_request(json_body(request), state.defaults);
  check_model(state, parsed.model);
  if (parsed.tool_choice == api::ToolChoice::automatic && state.parsers.tool_call.empty())
    throw api::ApiError(400, "\"auto\" tool choice requires --enable-auto-tool-choice and --tool-call-parser to be set",
                        "tool_choice");

  auto kwargs = parsed.chat_template_kwargs;
  if (!parsed.documents.is_null()) kwargs["documents"] = parsed.documents;
  const std::string text = render_chat(state, {parsed.messages, parsed.tools, parsed.add_generation_prompt,
                                               parsed.continue_final_message, kwargs, parsed.chat_template});
  api::PromptTokens prompt{text, text_tokenizer(state).encode(text, parsed.add_special_tokens)};

  const auto prompt_len = static_cast<std::int64_t>(prompt.ids.size());
  api::check_context_length(state.max_model_len, prompt_len, parsed.max_tokens);
  std::int64_t max_tokens = parsed.max_tokens ? *parsed.max_tokens : state.max_model_len - prompt_len;
  if (state.defaults.generation.max_new_tokens) max_tokens = std::min(max_tokens, *state.defaults.generation.max_new_tokens);
  parsed.sampling.max_tokens = static_cast<int>(max_tokens);

  const std::string id = "chatcmpl-" + random_hex(32);
  log_request(state, id, prompt.ids.size(), parsed.sampling);
  std::vector<engine::EngineRequest> requests;
  requests.push_back({id, prompt.ids, parsed.sampling});
  auto call = std::make_shared<Call>(client, submit(client, std::move(requests)), *state.metrics, parsed.sampling.n,
                                     max_tokens, request);
  auto builder = std::make_shared<api::ChatResponse>(
      parsed, api::ResponseHeader{id, parsed.model.value_or(state.served_model_names.front()), unix_seconds()},
      std::move(prompt), state.tokenizer.get(), state.parsers);
  call->add = [builder](const engine::RequestOutput& output) { return builder->add(output); };
  if (parsed.stream.include_usage) call->usage_chunk = [builder] { return builder->usage_chunk(); };
  call->response = [builder] { return builder->response(); };
  respond(call, parsed.stream.stream, response);
}

}  // namespace llmctl::serve
