#include "inspect/inspect_tokenizer.hpp"

#include "common/error.hpp"
#include "common/json_file.hpp"
#include "tokenizer/chat_template.hpp"
#include "tokenizer/tokenizer.hpp"
#include "tokenizer/tokenizer_config.hpp"

#include <fmt/format.h>
#include <nlohmann/json.hpp>

#include <cctype>
#include <charconv>
#include <cstdio>
#include <filesystem>
#include <iostream>
#include <iterator>

namespace llmctl::cli {
namespace {

namespace fs = std::filesystem;
using nlohmann::ordered_json;

// The folder of a model given as a folder or as one of its files.
fs::path tokenizer_folder(const std::string& model) {
  std::error_code ec;
  if (fs::is_regular_file(model, ec)) return fs::path(model).has_parent_path() ? fs::path(model).parent_path() : fs::path(".");
  if (!fs::is_directory(model, ec)) throw Error(model + ": no such model folder");
  return model;
}

std::string read_input(const std::string& path_or_dash, const std::string& what) {
  if (path_or_dash == "-") return {std::istreambuf_iterator<char>(std::cin), std::istreambuf_iterator<char>()};
  std::error_code error;
  if (!fs::is_regular_file(path_or_dash, error)) throw Error(fmt::format("{} {}: cannot read the file", what, path_or_dash));
  return read_text_file(path_or_dash);
}

// JSON text of `value` on one line; bytes that are not UTF-8 (a token that is part of a character)
// become U+FFFD rather than an exception.
std::string one_line_json(const nlohmann::json& value) { return value.dump(-1, ' ', false, nlohmann::json::error_handler_t::replace); }

engine::Tokenizer load_tokenizer(const fs::path& folder) {
  std::error_code error;
  if (!fs::exists(folder / "tokenizer.json", error)) throw Error(folder.string() + ": no tokenizer.json here");
  return engine::Tokenizer::load(folder / "tokenizer.json");
}

// "1,2,3", or a pasted JSON array over several lines.
std::vector<engine::TokenId> parse_ids(const std::string& text) {
  std::vector<engine::TokenId> ids;
  std::string current;
  const auto flush = [&] {
    if (current.empty()) return;
    engine::TokenId value = -1;
    const auto [end, error] = std::from_chars(current.data(), current.data() + current.size(), value);
    if (error != std::errc() || end != current.data() + current.size() || value < 0) {
      throw Error("--detokenize: " + one_line_json(current) +
                  " is not a token id");
    }
    ids.push_back(value);
    current.clear();
  };
  for (const char c : text) {
    if (c == ',' || c == '[' || c == ']' || std::isspace(static_cast<unsigned char>(c))) {
      flush();
    } else {
      current += c;
    }
  }
  flush();
  return ids;
}

void tokenize(const InspectOptions& options, const fs::path& folder) {
  const auto tokenizer = load_tokenizer(folder);
  const std::string text = *options.tokenize == "-" ? read_input("-", "--tokenize") : *options.tokenize;
  const auto ids = tokenizer.encode(text, options.add_special_tokens);
  std::vector<std::string> tokens;
  for (const auto id : ids) tokens.push_back(tokenizer.id_to_token(id).value_or(""));
  if (options.json) {
    std::puts(one_line_json({{"ids", ids}, {"tokens", tokens}}).c_str());
    return;
  }
  for (std::size_t i = 0; i < ids.size(); ++i) {
    fmt::print("{:>8}  {}\n", ids[i], one_line_json(tokens[i]));
  }
  fmt::print("{} tokens\n", ids.size());
}

void detokenize(const InspectOptions& options, const fs::path& folder) {
  const auto tokenizer = load_tokenizer(folder);
  const auto ids = parse_ids(*options.detokenize);
  const std::size_t vocab_size = tokenizer.vocab_size();
  for (const auto id : ids) {
    if (static_cast<std::size_t>(id) >= vocab_size) {
      throw Error(fmt::format("--detokenize: token id {} is outside the vocabulary (size {})", id, vocab_size));
    }
  }
  const std::string text = tokenizer.decode(ids, options.skip_special_tokens);
  if (options.json) {
    std::puts(nlohmann::json{{"text", text}}.dump().c_str());
  } else {
    std::fwrite(text.data(), 1, text.size(), stdout);
  }
}

void render_chat(const InspectOptions& options, const fs::path& folder) {
  const auto chat_template = engine::ChatTemplate::for_model(engine::load_tokenizer_config(folder), options.chat_template);
  auto request = parse_ordered_json(read_input(*options.render_chat, "--render-chat"), "--render-chat " + *options.render_chat);
  // A message array, or a chat completion request body with "messages" (and perhaps "tools").
  ordered_json messages = request.is_object() && request.contains("messages") ? request.at("messages") : request;
  ordered_json tools = request.is_object() && request.contains("tools") ? request.at("tools") : ordered_json();
  if (options.tools) tools = parse_ordered_json(read_input(*options.tools, "--tools"), "--tools " + *options.tools);
  ordered_json kwargs = ordered_json::object();
  if (options.chat_template_kwargs) {
    kwargs = parse_ordered_json(*options.chat_template_kwargs, "--chat-template-kwargs");
    if (!kwargs.is_object()) throw Error("--chat-template-kwargs: expected a JSON object");
  }
  const std::string prompt = chat_template.render(messages, tools, options.add_generation_prompt, kwargs);
  if (options.json) {
    std::puts(nlohmann::json{{"prompt", prompt}}.dump().c_str());
  } else {
    std::fwrite(prompt.data(), 1, prompt.size(), stdout);
  }
}

}  // namespace

bool run_tokenizer_mode(const InspectOptions& options) {
  if (!options.tokenize && !options.detokenize && !options.render_chat) return false;
  const fs::path folder = tokenizer_folder(options.model);
  if (options.tokenize) tokenize(options, folder);
  if (options.detokenize) detokenize(options, folder);
  if (options.render_chat) render_chat(options, folder);
  return true;
}

}  // namespace llmctl::cli
