#pragma once

#include <memory>
#include <optional>
#include <string>
#include <string_view>
#include <vector>

namespace llmctl::api {

// A piece of one tool call as OpenAI streams it: the first delta of a call carries its id and name, the
// following ones more of its arguments (a JSON text). The hermes parser sends the arguments in one piece
// when the call is complete, so that they equal the non-streamed arguments byte for byte.
struct ToolCallDelta {
  int index = 0;  // the call's position among this choice's calls
  std::optional<std::string> id;    // "chatcmpl-tool-<random>", first delta only
  std::optional<std::string> name;  // first delta only
  std::string arguments;            // more of the arguments' JSON text
};

// Turns a choice's content into text and tool calls, as vLLM's --tool-call-parser does, delta by
// delta, so that streaming and non-streaming agree.
class ToolCallParser {
 public:
  struct Delta {
    std::string content;
    std::vector<ToolCallDelta> tool_calls;
  };

  // "hermes" (Qwen2.5/Qwen3/Hermes: <tool_call>{"name": ..., "arguments": {...}}</tool_call>); throws
  // llmctl::Error naming the known parsers otherwise.
  static std::unique_ptr<ToolCallParser> create(std::string_view name);
  virtual ~ToolCallParser() = default;

  virtual Delta feed(std::string_view text) = 0;
  virtual Delta finish() = 0;
  virtual bool called_tools() const = 0;  // at least one call was produced: finish_reason "tool_calls"
};

}  // namespace llmctl::api
