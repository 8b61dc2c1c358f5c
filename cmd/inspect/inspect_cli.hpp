#pragma once

#include "common/cli.hpp"

#include <optional>
#include <string>

namespace llmctl::cli {

struct InspectOptions {
  std::string model;
  bool tensors = false;
  bool json = false;
  // Tokenizer and chat-template modes: each prints only its answer.
  std::optional<std::string> tokenize;  // text, or "-" for stdin
  bool add_special_tokens = false;
  std::optional<std::string> detokenize;  // "1,2,3"
  bool skip_special_tokens = false;
  std::optional<std::string> render_chat;  // messages JSON file, or "-" for stdin
  std::optional<std::string> tools;        // tools JSON file
  bool add_generation_prompt = false;
  std::optional<std::string> chat_template_kwargs;  // a JSON object
  std::optional<std::string> chat_template;         // file, or the template itself
};

class InspectCommand : public Command {
 public:
  InspectCommand();
  InspectOptions options;
};

}  // namespace llmctl::cli
