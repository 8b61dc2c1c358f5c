#include "api/chat_response.hpp"

#include "api/logprobs.hpp"
#include "common/error.hpp"

#include <algorithm>
#include <optional>
#include <utility>
#include <variant>

namespace llmctl::api {

namespace {

// What one step of one choice adds to the message, after the parsers.
struct MessageDelta {
  std::string reasoning;
  std::string content;
  std::vector<ToolCallDelta> tool_calls;

  bool empty() const { return reasoning.empty() && content.empty() && tool_calls.empty(); }
  void add(ToolCallParser::Delta delta) {
    content += delta.content;
    for (auto& call : delta.tool_calls) {
      // More arguments of the call just listed join it rather than repeat its index.
      if (!tool_calls.empty() && tool_calls.back().index == call.index && !call.id && !call.name)
        tool_calls.back().arguments += call.arguments;
      else
        tool_calls.push_back(std::move(call));
    }
  }
};

nlohmann::ordered_json tool_call_delta_json(const ToolCallDelta& call) {
  nlohmann::ordered_json json;  // vLLM's DeltaToolCall field order: id, type, index, function
  if (call.id) json["id"] = *call.id;
  if (call.id || call.name) json["type"] = "function";
  json["index"] = call.index;
  auto function = nlohmann::ordered_json::object();
  if (call.name) function["name"] = *call.name;
  if (!call.arguments.empty()) function["arguments"] = call.arguments;
  json["function"] = std::move(function);
  return json;
}

nlohmann::ordered_json stop_reason_json(const std::variant<std::monostate, std::string, TokenId>& stop_reason) {
  if (const auto* text = std::get_if<std::string>(&stop_reason)) return *text;
  if (const auto* token = std::get_if<TokenId>(&stop_reason)) return *token;
  return nullptr;
}

// The role of the answer: vLLM's response role, or the last message's when the prompt continues it.
std::string response_role(const ChatRequest& request) {
  if (request.add_generation_prompt) return "assistant";
  const auto& messages = request.messages;
  if (messages.is_array() && !messages.empty() && messages.back().contains("role") && messages.back()["role"].is_string())
    return messages.back()["role"].get<std::string>();
  return "assistant";
}

// What echo puts first: the last message's content when its role is the response's.
std::string echo_text(const ChatRequest& request, const std::string& role) {
  const auto& messages = request.messages;
  if (!request.echo || !messages.is_array() || messages.empty()) return {};
  const auto& last = messages.back();
  if (!last.contains("role") || last["role"] != role || !last.contains("content") || !last["content"].is_string()) return {};
  return last["content"].get<std::string>();
}

}  // namespace

struct ChatResponse::Choice {
  struct ToolCall {
    std::string id;
    std::string name;
    std::string arguments;
  };

  std::unique_ptr<ReasoningParser> reasoning;
  std::unique_ptr<ToolCallParser> tools;
  std::string reasoning_text;
  std::string content;
  std::vector<ToolCall> tool_calls;
  std::vector<engine::SampledToken> logprobs;
  std::vector<engine::SampledToken> unsent_logprobs;  // streaming: of tokens whose text is still to come
  std::int64_t num_tokens = 0;
  std::optional<engine::FinishReason> finish_reason;
  std::variant<std::monostate, std::string, TokenId> stop_reason;

  // "tool_calls" replaces "stop" once the parser produced a call; a choice cut by length keeps "length".
  std::string finish_reason_name() const {
    if (!finish_reason) return "stop";
    if (*finish_reason == engine::FinishReason::stop && tools && tools->called_tools()) return "tool_calls";
    return std::string(engine::finish_reason_name(*finish_reason));
  }

  // Runs the text of one step through the reasoning parser, then its content through the tool-call
  // parser; at the end of the choice, flushes both.
  MessageDelta parse(const std::string& text, bool last) {
    MessageDelta delta;
    std::string visible = text;
    if (reasoning) {
      auto step = reasoning->feed(text);
      if (last) {
        auto rest = reasoning->finish();
        step.reasoning += rest.reasoning;
        step.content += rest.content;
      }
      delta.reasoning = std::move(step.reasoning);
      visible = std::move(step.content);
    }
    if (tools) {
      delta.add(tools->feed(visible));
      if (last) delta.add(tools->finish());
    } else {
      delta.content = std::move(visible);
    }
    return delta;
  }

  void record(const MessageDelta& delta) {
    reasoning_text += delta.reasoning;
    content += delta.content;
    for (const auto& call : delta.tool_calls) {
      if (call.index < 0) throw Error("internal: the tool-call parser gave index " + std::to_string(call.index));
      if (static_cast<std::size_t>(call.index) >= tool_calls.size()) tool_calls.resize(static_cast<std::size_t>(call.index) + 1);
      auto& recorded = tool_calls[static_cast<std::size_t>(call.index)];
      if (call.id) recorded.id = *call.id;
      if (call.name) recorded.name = *call.name;
      recorded.arguments += call.arguments;
    }
  }
};

struct ChatResponse::State {
  ResponseHeader header;
  const engine::Tokenizer* tokenizer = nullptr;
  bool stream = false;
  bool continuous_usage = false;
  bool logprobs = false;
  int num_top_logprobs = 0;
  bool echo = false;
  bool reasoning = false;  // a reasoning parser runs
  std::string role;
  std::string echo_text;
  std::int64_t prompt_tokens = 0;
  std::vector<Choice> choices;
  bool started = false;
  std::int64_t first_cached_tokens = 0;  // what a stream's usage reports, as vLLM
  std::int64_t last_cached_tokens = 0;   // what the whole response reports

  nlohmann::ordered_json chunk(nlohmann::ordered_json chunk_choices) const {
    nlohmann::ordered_json chunk;
    chunk["id"] = header.id;
    chunk["object"] = "chat.completion.chunk";
    chunk["created"] = header.created;
    chunk["model"] = header.model;
    chunk["choices"] = std::move(chunk_choices);
    return chunk;
  }

  // vLLM's UsageInfo with only the fields it sets: prompt_tokens, total_tokens, completion_tokens.
  static nlohmann::ordered_json usage(std::int64_t prompt, std::int64_t completion) {
    return {{"prompt_tokens", prompt}, {"total_tokens", prompt + completion}, {"completion_tokens", completion}};
  }

  std::int64_t completion_tokens() const {
    std::int64_t total = 0;
    for (const auto& choice : choices) total += choice.num_tokens;
    return total;
  }

  nlohmann::ordered_json cached_details(std::int64_t cached) const {
    if (!header.prompt_tokens_details || cached <= 0) return nullptr;
    return {{"cached_tokens", cached}};
  }

  // The first chunk of every choice (role, and content "" as vLLM sends it), then the echo.
  void start(std::vector<nlohmann::ordered_json>& chunks) const {
    auto send = [&](std::size_t index, nlohmann::ordered_json delta) {
      auto json = chunk(nlohmann::ordered_json::array(
          {{{"index", index}, {"delta", std::move(delta)}, {"logprobs", nullptr}, {"finish_reason", nullptr}}}));
      if (continuous_usage) json["usage"] = usage(prompt_tokens, 0);
      chunks.push_back(std::move(json));
    };
    for (std::size_t i = 0; i < choices.size(); ++i) send(i, {{"role", role}, {"content", ""}});
    if (!echo_text.empty())
      for (std::size_t i = 0; i < choices.size(); ++i) send(i, {{"content", echo_text}});
  }
};

ChatResponse::ChatResponse(const ChatRequest& request, ResponseHeader header, PromptTokens prompt,
                           const engine::Tokenizer* tokenizer, const OutputParsers& parsers)
    : state_(std::make_unique<State>()) {
  State& s = *state_;
  s.header = std::move(header);
  s.tokenizer = tokenizer;
  s.stream = request.stream.stream;
  s.continuous_usage = request.stream.include_usage && request.stream.continuous_usage_stats;
  s.logprobs = request.logprobs;
  s.num_top_logprobs = request.sampling.logprobs.value_or(0);
  s.role = response_role(request);
  s.echo_text = echo_text(request, s.role);
  s.echo = request.echo;
  s.reasoning = !parsers.reasoning.empty();
  s.prompt_tokens = static_cast<std::int64_t>(prompt.ids.size());
  const bool use_tools = !parsers.tool_call.empty() && request.tools.is_array() && !request.tools.empty() &&
                         request.tool_choice == ToolChoice::automatic;
  // The reasoning parser reads the rendered prompt: one that closes the reasoning leaves only content.
  std::string prompt_text;
  if (s.reasoning) prompt_text = prompt.text ? *prompt.text : tokenizer ? tokenizer->decode(prompt.ids, false) : "";
  s.choices.resize(static_cast<std::size_t>(std::max(request.sampling.n, 1)));
  for (auto& choice : s.choices) {
    if (s.reasoning) choice.reasoning = ReasoningParser::create(parsers.reasoning, prompt_text);
    if (use_tools) choice.tools = ToolCallParser::create(parsers.tool_call);
  }
}

ChatResponse::~ChatResponse() = default;
ChatResponse::ChatResponse(ChatResponse&&) noexcept = default;

std::vector<nlohmann::ordered_json> ChatResponse::add(const engine::RequestOutput& output) {
  State& s = *state_;
  std::vector<nlohmann::ordered_json> chunks;
  if (!s.started) {
    s.started = true;
    s.first_cached_tokens = output.num_cached_tokens;
    if (s.stream) s.start(chunks);
  }
  s.last_cached_tokens = output.num_cached_tokens;

  for (const auto& update : output.updates) {
    if (update.index < 0 || static_cast<std::size_t>(update.index) >= s.choices.size())
      throw Error("internal: an output for choice " + std::to_string(update.index) + " of " +
                  std::to_string(s.choices.size()));
    Choice& choice = s.choices[static_cast<std::size_t>(update.index)];
    if (choice.finish_reason) continue;  // nothing follows a choice's end
    choice.num_tokens += static_cast<std::int64_t>(update.token_ids.size());
    choice.logprobs.insert(choice.logprobs.end(), update.logprobs.begin(), update.logprobs.end());
    choice.finish_reason = update.finish_reason;
    choice.stop_reason = update.stop_reason;
    const MessageDelta delta = choice.parse(update.text, update.finish_reason.has_value());
    choice.record(delta);
    if (!s.stream) continue;

    // As vLLM: without parsers every output with new tokens gets a chunk, text or not (streaming
    // clients time tokens by chunks); text the parsers hold back (a possible tag) sends nothing until it
    // resolves, and its logprobs wait for that chunk.
    choice.unsent_logprobs.insert(choice.unsent_logprobs.end(), update.logprobs.begin(), update.logprobs.end());
    const bool parsed = choice.reasoning || choice.tools;
    if (delta.empty() && !choice.finish_reason && (parsed || update.token_ids.empty())) continue;

    auto delta_json = nlohmann::ordered_json::object();  // vLLM's DeltaMessage order
    // Without parsers vLLM always sets content, so a last chunk without text reads {"content":""}.
    if (!delta.content.empty() || (!choice.reasoning && !choice.tools)) delta_json["content"] = delta.content;
    if (!delta.reasoning.empty()) delta_json["reasoning_content"] = delta.reasoning;
    if (!delta.tool_calls.empty()) {
      auto calls = nlohmann::ordered_json::array();
      for (const auto& call : delta.tool_calls) calls.push_back(tool_call_delta_json(call));
      delta_json["tool_calls"] = std::move(calls);
    }
    nlohmann::ordered_json entry;
    entry["index"] = update.index;
    entry["delta"] = std::move(delta_json);
    entry["logprobs"] = s.logprobs ? chat_logprobs(choice.unsent_logprobs, s.num_top_logprobs, s.tokenizer)
                                   : nlohmann::ordered_json();
    choice.unsent_logprobs.clear();
    if (choice.finish_reason) {
      entry["finish_reason"] = choice.finish_reason_name();
      entry["stop_reason"] = stop_reason_json(choice.stop_reason);
    } else {
      entry["finish_reason"] = nullptr;
    }
    auto json = s.chunk(nlohmann::ordered_json::array({std::move(entry)}));
    if (s.continuous_usage) json["usage"] = State::usage(s.prompt_tokens, choice.num_tokens);
    chunks.push_back(std::move(json));
  }
  return chunks;
}

nlohmann::ordered_json ChatResponse::usage_chunk() const {
  const State& s = *state_;
  auto usage = State::usage(s.prompt_tokens, s.completion_tokens());
  if (auto details = s.cached_details(s.first_cached_tokens); !details.is_null()) usage["prompt_tokens_details"] = details;
  auto chunk = s.chunk(nlohmann::ordered_json::array());
  chunk["usage"] = std::move(usage);
  return chunk;
}

nlohmann::ordered_json ChatResponse::response() const {
  const State& s = *state_;
  auto choices = nlohmann::ordered_json::array();
  for (std::size_t index = 0; index < s.choices.size(); ++index) {
    const Choice& choice = s.choices[index];
    const bool called_tools = choice.tools && choice.tools->called_tools();
    // vLLM: content is null when the parsers leave none (all reasoning, only tool calls); echo makes it
    // a string again.
    nlohmann::ordered_json content = choice.content;
    if (choice.content.empty() && (s.reasoning || called_tools)) content = nullptr;
    if (s.echo) content = s.echo_text + choice.content;

    auto tool_calls = nlohmann::ordered_json::array();
    for (const auto& call : choice.tool_calls)
      tool_calls.push_back({{"id", call.id},
                            {"type", "function"},
                            {"function", {{"name", call.name}, {"arguments", call.arguments}}}});
    nlohmann::ordered_json message;  // vLLM's ChatMessage, every field
    message["role"] = s.role;
    message["content"] = std::move(content);
    message["refusal"] = nullptr;
    message["annotations"] = nullptr;
    message["audio"] = nullptr;
    message["function_call"] = nullptr;
    message["tool_calls"] = std::move(tool_calls);
    message["reasoning_content"] = choice.reasoning_text.empty() ? nlohmann::ordered_json() : nlohmann::ordered_json(choice.reasoning_text);

    nlohmann::ordered_json entry;
    entry["index"] = index;
    entry["message"] = std::move(message);
    entry["logprobs"] = s.logprobs ? chat_logprobs(choice.logprobs, s.num_top_logprobs, s.tokenizer) : nlohmann::ordered_json();
    entry["finish_reason"] = choice.finish_reason_name();
    entry["stop_reason"] = stop_reason_json(choice.stop_reason);
    choices.push_back(std::move(entry));
  }

  auto usage = State::usage(s.prompt_tokens, s.completion_tokens());
  usage["prompt_tokens_details"] = s.cached_details(s.last_cached_tokens);
  nlohmann::ordered_json response;
  response["id"] = s.header.id;
  response["object"] = "chat.completion";
  response["created"] = s.header.created;
  response["model"] = s.header.model;
  response["choices"] = std::move(choices);
  response["service_tier"] = nullptr;
  response["system_fingerprint"] = nullptr;
  response["usage"] = std::move(usage);
  response["prompt_logprobs"] = nullptr;
  response["kv_transfer_params"] = nullptr;
  return response;
}

}  // namespace llmctl::api
