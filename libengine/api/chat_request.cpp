#include "api/chat_request.hpp"

#include "api/request_fields.hpp"

#include <fmt/format.h>

#include <limits>
#include <string>
#include <vector>

namespace llmctl::api {

namespace {

// The content part types that carry text, and the key that holds it (vLLM's MM_PARSER_MAP).
const char* text_key_of(std::string_view type) {
  if (type == "text" || type == "input_text" || type == "output_text") return "text";
  if (type == "refusal") return "refusal";
  if (type == "thinking") return "thinking";
  return nullptr;
}

constexpr std::string_view kMediaKeys[] = {"image_url", "image_pil", "image_embeds", "audio_url", "input_audio", "video_url"};

[[noreturn]] void fail_text_only(const std::string& name, std::string_view type) {
  fail_field(name, fmt::format("{} has type \"{}\": llmctl serves text-only models, so content parts must be text.", name, type));
}

// vLLM's "string" content format: a string stays, null is "", and the text of an array of parts is
// joined with "\n" (parts whose text is null are skipped, as vLLM does).
std::string message_text(const Json& message, const std::string& name) {
  const Json* content = find_field(message, "content");
  if (!content) return "";
  if (content->is_string()) return content->get<std::string>();
  const std::string content_name = name + ".content";
  if (!content->is_array())
    fail_field(content_name,
         fmt::format("{} must be a string, an array of content parts or null, got {}.", content_name, describe(*content)));
  std::string text;
  bool first = true;
  const auto append = [&](const std::string& piece) {
    if (!first) text += '\n';
    text += piece;
    first = false;
  };
  for (std::size_t i = 0; i < content->size(); ++i) {
    const Json& part = (*content)[i];
    const std::string part_name = fmt::format("{}[{}]", content_name, i);
    if (part.is_string()) {
      append(part.get<std::string>());
      continue;
    }
    as_object(part, part_name);
    const Json* type = find_field(part, "type");
    if (!type) {
      for (const std::string_view key : kMediaKeys)
        if (part.contains(key)) fail_text_only(part_name, key);
      fail_field(part_name + ".type", "Missing 'type' field in multimodal part.");  // vLLM's words
    }
    const std::string& kind = as_string(*type, part_name + ".type");
    const char* key = text_key_of(kind);
    if (!key) fail_text_only(part_name, kind);
    if (const Json* piece = find_field(part, key)) append(as_string(*piece, fmt::format("{}.{}", part_name, key)));
  }
  return text;
}

// vLLM's _postprocess_messages: templates expect tool call arguments as JSON values (Qwen2.5's renders
// them with `tojson`), so a JSON string is parsed; empty or absent arguments become {}.
Json tool_calls_of(const Json& calls, const std::string& name) {
  as_array(calls, name);
  Json out = Json::array();
  for (std::size_t i = 0; i < calls.size(); ++i) {
    const std::string call_name = fmt::format("{}[{}]", name, i);
    Json call = as_object(calls[i], call_name);
    const std::string function_name = call_name + ".function";
    const Json* function = find_field(call, "function");
    if (!function) fail_field(function_name, function_name + " is required.");
    as_object(*function, function_name);
    const Json* tool = find_field(*function, "name");
    if (!tool) fail_field(function_name + ".name", function_name + ".name is required.");
    as_string(*tool, function_name + ".name");
    const std::string arguments_name = function_name + ".arguments";
    const Json* arguments = find_field(*function, "arguments");
    Json parsed = Json::object();
    if (arguments && arguments->is_string()) {
      if (!arguments->get_ref<const std::string&>().empty()) {
        parsed = Json::parse(arguments->get_ref<const std::string&>(), nullptr, false);
        if (parsed.is_discarded()) fail_field(arguments_name, arguments_name + " must be a JSON string or an object, got invalid JSON.");
      }
    } else if (arguments && (arguments->is_object() || arguments->is_array())) {
      parsed = *arguments;
    } else if (arguments) {
      fail_field(arguments_name, fmt::format("{} must be a JSON string or an object, got {}.", arguments_name, describe(*arguments)));
    }
    call["function"]["arguments"] = std::move(parsed);
    out.push_back(std::move(call));
  }
  return out;
}

// One message as vLLM's parse_chat_messages hands it to the template: role, content, then tool_calls
// (assistant) or tool_call_id (tool), and name; reasoning_content passes for the templates that read
// it (Qwen3). Other keys are dropped, as vLLM builds each message afresh.
Json parse_message(const Json& message, const std::string& name) {
  as_object(message, name);
  const Json* role_value = find_field(message, "role");
  if (!role_value) fail_field(name + ".role", name + ".role is required.");
  const std::string& role = as_string(*role_value, name + ".role");
  Json out = Json::object();
  out["role"] = role;
  out["content"] = message_text(message, name);
  if (role == "assistant") {
    if (const Json* calls = find_field(message, "tool_calls")) out["tool_calls"] = tool_calls_of(*calls, name + ".tool_calls");
    if (const auto reasoning = optional_string(message, "reasoning_content")) out["reasoning_content"] = *reasoning;
  }
  if (role == "tool")
    if (const auto id = optional_string(message, "tool_call_id")) out["tool_call_id"] = *id;
  if (const Json* speaker = find_field(message, "name"); speaker && speaker->is_string()) out["name"] = *speaker;
  return out;
}

ToolChoice read_tool_choice(const Json& body, Json& tools) {
  const Json* choice = find_field(body, "tool_choice");
  if (!choice) return tools.is_array() && !tools.empty() ? ToolChoice::automatic : ToolChoice::none;
  if (!choice->is_string() && !choice->is_object())
    fail_field("tool_choice", fmt::format("tool_choice must be a string or an object, got {}.", describe(*choice)));
  if (choice->is_string() && choice->get_ref<const std::string&>() == "none") return ToolChoice::none;
  if (tools.is_null()) fail_field("tool_choice", "When using `tool_choice`, `tools` must be set.");
  constexpr const char* kNeedsStructuredOutput =
      "needs structured output (guided decoding), which llmctl does not support; use \"auto\" or \"none\".";
  if (choice->is_object()) fail_field("tool_choice", fmt::format("tool_choice naming a function {}", kNeedsStructuredOutput));
  const std::string& value = choice->get_ref<const std::string&>();
  if (value == "auto") return ToolChoice::automatic;
  if (value == "required") {
    // vLLM, as OpenAI: "required" with no tools behaves as "none".
    if (tools.empty()) {
      tools = nullptr;
      return ToolChoice::none;
    }
    fail_field("tool_choice", fmt::format("tool_choice \"required\" {}", kNeedsStructuredOutput));
  }
  fail_field("tool_choice", fmt::format("Invalid value for `tool_choice`: {}! Only named tools, \"none\", \"auto\" or \"required\" "
                                  "are supported.",
                                  value));
}

// documents: a list of objects of strings (vLLM's list[dict[str, str]]), for RAG templates.
Json read_documents(const Json& body) {
  const Json* documents = find_field(body, "documents");
  if (!documents) return nullptr;
  as_array(*documents, "documents");
  for (std::size_t i = 0; i < documents->size(); ++i) {
    const std::string name = fmt::format("documents[{}]", i);
    for (const auto& [key, value] : as_object((*documents)[i], name).items()) as_string(value, fmt::format("{}.{}", name, key));
  }
  return *documents;
}

}  // namespace

Json parse_chat_messages(const Json& body) {
  const Json* messages = find_field(body, "messages");
  if (!messages) fail_field("messages", "messages is required.");
  as_array(*messages, "messages");
  if (messages->empty()) fail_field("messages", "messages must not be empty.");
  Json out = Json::array();
  for (std::size_t i = 0; i < messages->size(); ++i) out.push_back(parse_message((*messages)[i], fmt::format("messages[{}]", i)));
  return out;
}

Json parse_chat_tools(const Json& body) {
  const Json* tools = find_field(body, "tools");
  if (!tools) return nullptr;
  as_array(*tools, "tools");
  Json out = Json::array();
  for (std::size_t i = 0; i < tools->size(); ++i) {
    const std::string name = fmt::format("tools[{}]", i);
    const Json& tool = as_object((*tools)[i], name);
    if (const Json* type = find_field(tool, "type"); type && (!type->is_string() || *type != "function"))
      fail_field(name + ".type", fmt::format("{}.type must be \"function\", got {}.", name, type->dump()));
    const Json* function = find_field(tool, "function");
    if (!function) fail_field(name + ".function", name + ".function is required.");
    as_object(*function, name + ".function");
    const Json* function_name = find_field(*function, "name");
    if (!function_name) fail_field(name + ".function.name", name + ".function.name is required.");
    // pydantic's model_dump: declared fields in order, with their defaults, then the extra ones.
    Json normalised_function = {
        {"name", as_string(*function_name, name + ".function.name")}, {"description", nullptr}, {"parameters", nullptr}};
    if (const Json* description = find_field(*function, "description"))
      normalised_function["description"] = as_string(*description, name + ".function.description");
    if (const Json* parameters = find_field(*function, "parameters"))
      normalised_function["parameters"] = as_object(*parameters, name + ".function.parameters");
    for (const auto& [key, value] : function->items())
      if (!normalised_function.contains(key)) normalised_function[key] = value;
    Json normalised = {{"type", "function"}, {"function", std::move(normalised_function)}};
    for (const auto& [key, value] : tool.items())
      if (!normalised.contains(key)) normalised[key] = value;
    out.push_back(std::move(normalised));
  }
  return out;
}

GenerationPromptFlags read_generation_prompt_flags(const Json& body) {
  const auto add_generation_prompt = optional_bool(body, "add_generation_prompt");
  const bool continue_final_message = optional_bool(body, "continue_final_message").value_or(false);
  if (continue_final_message && add_generation_prompt.value_or(false))
    fail_field("continue_final_message", "Cannot set both `continue_final_message` and `add_generation_prompt` to True.");
  return {add_generation_prompt.value_or(!continue_final_message), continue_final_message};
}

ChatRequest parse_chat_request(const Json& body_value, const ServingDefaults& defaults) {
  const Json& body = require_object_body(body_value);
  ChatRequest request;
  request.model = optional_string(body, "model");
  request.messages = parse_chat_messages(body);
  request.tools = parse_chat_tools(body);
  request.tool_choice = read_tool_choice(body, request.tools);

  request.sampling = read_sampling_fields(body, defaults);
  refuse_unsupported_fields(body, request.sampling.n);
  request.stream = read_stream_options(body);

  // max_completion_tokens replaces the deprecated max_tokens.
  const auto max_completion_tokens = optional_int(body, "max_completion_tokens");
  const std::string_view max_tokens_field = max_completion_tokens ? "max_completion_tokens" : "max_tokens";
  request.max_tokens = max_completion_tokens ? max_completion_tokens : optional_int(body, "max_tokens");
  request.sampling.max_tokens = cap_max_tokens(request.max_tokens.value_or(std::numeric_limits<int>::max()), defaults);

  request.logprobs = optional_bool(body, "logprobs").value_or(false);
  const int top_logprobs = optional_int(body, "top_logprobs").value_or(0);
  if (top_logprobs < 0 && top_logprobs != -1) fail_field("top_logprobs", "`top_logprobs` must be a positive value or -1.");
  if (top_logprobs != 0 && !request.logprobs)
    fail_field("top_logprobs", "when using `top_logprobs`, `logprobs` must be set to true.");
  if (request.logprobs) {
    check_logprobs_limit(top_logprobs, defaults, "top_logprobs");
    request.sampling.logprobs = top_logprobs;
  }

  request.echo = optional_bool(body, "echo").value_or(false);
  const GenerationPromptFlags flags = read_generation_prompt_flags(body);
  request.add_generation_prompt = flags.add_generation_prompt;
  request.continue_final_message = flags.continue_final_message;
  request.add_special_tokens = optional_bool(body, "add_special_tokens").value_or(false);
  request.chat_template = optional_string(body, "chat_template");
  request.chat_template_kwargs = optional_object(body, "chat_template_kwargs");
  request.documents = read_documents(body);
  validate_sampling(request.sampling, max_tokens_field);
  return request;
}

}  // namespace llmctl::api
