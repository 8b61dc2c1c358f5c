#include "api/tool_call_parser.hpp"

#include "common/error.hpp"
#include "common/text.hpp"

#include <nlohmann/json.hpp>

#include <charconv>
#include <cmath>
#include <random>

namespace llmctl::api {
namespace {

using Json = nlohmann::ordered_json;  // keeps the keys in the model's order, as Python's dict does

constexpr std::string_view kCallStart = "<tool_call>";
constexpr std::string_view kCallEnd = "</tool_call>";
constexpr std::string_view kWhitespace = " \t\n\r";

// vLLM's make_tool_call_id: "chatcmpl-tool-" + uuid.uuid4().hex.
std::string random_tool_call_id() {
  thread_local std::mt19937_64 random{std::random_device{}()};
  static constexpr char kHex[] = "0123456789abcdef";
  std::string id = "chatcmpl-tool-";
  for (int half = 0; half < 2; ++half) {
    auto bits = random();
    for (int i = 0; i < 16; ++i, bits >>= 4) id += kHex[bits & 15];
  }
  const auto hex = id.size() - 32;
  id[hex + 12] = '4';                               // UUID version 4
  id[hex + 16] = kHex[8 + (id[hex + 16] % 4)];      // RFC 4122 variant: 8, 9, a or b
  return id;
}

// ---- Python's json.dumps(value, ensure_ascii=False), which vLLM uses for the arguments ----

void append_python_string(std::string_view text, std::string& out) {
  out += '"';
  for (const char c : text) {
    switch (c) {
      case '"': out += "\\\""; break;
      case '\\': out += "\\\\"; break;
      case '\n': out += "\\n"; break;
      case '\r': out += "\\r"; break;
      case '\t': out += "\\t"; break;
      case '\b': out += "\\b"; break;
      case '\f': out += "\\f"; break;
      default:
        if (static_cast<unsigned char>(c) < 0x20) {
          static constexpr char kHex[] = "0123456789abcdef";
          out += "\\u00";
          out += kHex[c >> 4];
          out += kHex[c & 15];
        } else {
          out += c;  // ensure_ascii=False: everything else as it is, UTF-8 included
        }
    }
  }
  out += '"';
}

// Python's repr(float): the shortest digits that read back the same, in positional notation when the
// decimal exponent is in [-4, 16), else as "1.5e-07" / "1e+16".
void append_python_float(double value, std::string& out) {
  if (std::isinf(value)) {
    out += value < 0 ? "-Infinity" : "Infinity";
    return;
  }
  char buffer[64];
  const auto result = std::to_chars(buffer, buffer + sizeof buffer, value, std::chars_format::scientific);
  const std::string_view text(buffer, result.ptr - buffer);  // "-1.2345e+02": shortest round-trip digits
  const auto e = text.find('e');
  std::string digits;
  for (const char c : text.substr(0, e)) {
    if (c >= '0' && c <= '9') digits += c;
  }
  const int exponent = std::stoi(std::string(text.substr(e + 1)));
  if (text.front() == '-') out += '-';
  if (exponent < -4 || exponent >= 16) {
    out += digits.front();
    if (digits.size() > 1) out += "." + digits.substr(1);
    out += exponent < 0 ? "e-" : "e+";
    const auto magnitude = std::to_string(std::abs(exponent));
    if (magnitude.size() < 2) out += '0';
    out += magnitude;
  } else if (exponent < 0) {
    out += "0." + std::string(-exponent - 1, '0') + digits;
  } else if (static_cast<std::size_t>(exponent) + 1 >= digits.size()) {
    out += digits + std::string(exponent + 1 - digits.size(), '0') + ".0";
  } else {
    out += digits.substr(0, exponent + 1) + "." + digits.substr(exponent + 1);
  }
}

void append_python_json(const Json& value, std::string& out) {
  switch (value.type()) {
    case Json::value_t::object: {
      out += '{';
      const char* separator = "";
      for (const auto& item : value.items()) {
        out += separator;
        append_python_string(item.key(), out);
        out += ": ";
        append_python_json(item.value(), out);
        separator = ", ";
      }
      out += '}';
      break;
    }
    case Json::value_t::array: {
      out += '[';
      const char* separator = "";
      for (const auto& element : value) {
        out += separator;
        append_python_json(element, out);
        separator = ", ";
      }
      out += ']';
      break;
    }
    case Json::value_t::string: append_python_string(value.get_ref<const std::string&>(), out); break;
    case Json::value_t::boolean: out += value.get<bool>() ? "true" : "false"; break;
    case Json::value_t::number_integer: out += std::to_string(value.get<std::int64_t>()); break;
    case Json::value_t::number_unsigned: out += std::to_string(value.get<std::uint64_t>()); break;
    case Json::value_t::number_float: append_python_float(value.get<double>(), out); break;
    default: out += "null"; break;  // null (parsing gives no binary or discarded values)
  }
}

// ---- reading a call's JSON body ----

std::size_t skip_whitespace(std::string_view text, std::size_t at) {
  while (at < text.size() && kWhitespace.find(text[at]) != std::string_view::npos) ++at;
  return at;
}

// The index just past the JSON string that opens at text[at] (a '"'), or npos while it is unterminated.
std::size_t string_end(std::string_view text, std::size_t at) {
  for (std::size_t i = at + 1; i < text.size(); ++i) {
    if (text[i] == '\\') {
      ++i;
    } else if (text[i] == '"') {
      return i + 1;
    }
  }
  return std::string_view::npos;
}

// What the start of a call's body says of its name: the body opens with {"name": "<name>" (as Hermes and
// Qwen write it), it does not, or it is too short yet to tell.
struct NameScan {
  enum { kPending, kFound, kAbsent } outcome;
  std::string name;
};

NameScan scan_leading_name(std::string_view body) {
  constexpr std::string_view kKey = "\"name\"";
  auto at = skip_whitespace(body, 0);
  if (at == body.size()) return {NameScan::kPending, {}};
  if (body[at] != '{') return {NameScan::kAbsent, {}};
  at = skip_whitespace(body, at + 1);
  const auto key = body.substr(at, kKey.size());
  if (!kKey.starts_with(key)) return {NameScan::kAbsent, {}};
  if (key.size() < kKey.size()) return {NameScan::kPending, {}};
  at = skip_whitespace(body, at + kKey.size());
  if (at == body.size()) return {NameScan::kPending, {}};
  if (body[at] != ':') return {NameScan::kAbsent, {}};
  at = skip_whitespace(body, at + 1);
  if (at == body.size()) return {NameScan::kPending, {}};
  if (body[at] != '"') return {NameScan::kAbsent, {}};
  const auto end = string_end(body, at);
  if (end == std::string_view::npos) return {NameScan::kPending, {}};
  const auto name = Json::parse(body.substr(at, end - at), nullptr, false);
  if (!name.is_string()) return {NameScan::kAbsent, {}};  // a bad escape: left to the whole-body check
  return {NameScan::kFound, name.get<std::string>()};
}

// The text of the top-level "arguments" value as the model wrote it, up to its closing bracket or the end
// of the body; empty when there is none. Used only when the body is not valid JSON.
std::string raw_arguments(std::string_view body) {
  int depth = 0;
  std::string_view last_string;
  for (std::size_t i = 0; i < body.size(); ++i) {
    const char c = body[i];
    if (c == '"') {
      const auto end = string_end(body, i);
      if (end == std::string_view::npos) break;
      if (depth == 1) last_string = body.substr(i + 1, end - i - 2);
      i = end - 1;
    } else if (c == ':' && depth == 1 && last_string == "arguments") {
      const auto start = skip_whitespace(body, i + 1);
      if (start == body.size()) return {};
      if (body[start] != '{' && body[start] != '[') {
        const auto last = body.find_last_not_of(kWhitespace);
        return std::string(body.substr(start, last + 1 - start));
      }
      int nesting = 0;
      for (std::size_t j = start; j < body.size(); ++j) {
        if (body[j] == '"') {
          const auto end = string_end(body, j);
          if (end == std::string_view::npos) break;
          j = end - 1;
        } else if (body[j] == '{' || body[j] == '[') {
          ++nesting;
        } else if ((body[j] == '}' || body[j] == ']') && --nesting == 0) {
          return std::string(body.substr(start, j + 1 - start));
        }
      }
      return std::string(body.substr(start));
    } else if (c == '{' || c == '[') {
      ++depth;
    } else if (c == '}' || c == ']') {
      --depth;
    }
  }
  return {};
}

// Hermes / Qwen2.5 / Qwen3: <tool_call>\n{"name": "f", "arguments": {...}}\n</tool_call>, any number of
// times, with content around. Decisions (vLLM's own streaming path has leaked tags and sent arguments
// that do not add up to the non-streamed ones):
// - Text outside the calls is content; when all of it is whitespace and a call was made it is dropped
//   (newest vLLM; older vLLM also dropped whatever followed the first call). Whitespace is therefore held
//   until content that is not whitespace arrives.
// - A call's id and name are sent as soon as its body has begun {"name": "<name>"; its arguments are sent
//   in one piece when </tool_call> (or the end of the output) arrives, as json.dumps(arguments,
//   ensure_ascii=False) writes them (", " and ": "), so the streamed arguments equal the non-streamed ones.
// - The first </tool_call> closes a call, even inside a JSON string (as vLLM's regex): the JSON before it
//   is then unterminated and handled as below.
// - A body that is not a JSON object with a string "name" (a model error) is content, tags and all, when
//   its name was not sent yet; a call whose name was sent stays a call, with the arguments text as the
//   model wrote it (what OpenAI returns for arguments cut at max_tokens). A missing "arguments" is {}.
// - At the end of the output an unclosed call is parsed without its closing tag, less any start of one.
// Differences from Python's json left: NaN/Infinity literals, numbers beyond 64-bit integers or doubles
// and unpaired surrogate escapes are rejected (nlohmann) where Python accepts them.
class HermesToolCallParser final : public ToolCallParser {
 public:
  Delta feed(std::string_view text) override {
    held_ += text;
    Delta delta;
    advance(delta, false);
    return delta;
  }

  Delta finish() override {
    Delta delta;
    advance(delta, true);
    if (!content_started_ && !called_) delta.content += pending_whitespace_;
    pending_whitespace_.clear();
    return delta;
  }

  bool called_tools() const override { return called_; }

 private:
  void advance(Delta& out, bool at_end) {
    while (true) {
      if (!in_call_) {
        const auto start = held_.find(kCallStart);
        if (start == std::string::npos) {
          const auto ready = held_.size() - (at_end ? 0 : partial_match_at_end(held_, kCallStart));
          add_content(held_.substr(0, ready), out);
          held_.erase(0, ready);
          return;
        }
        add_content(held_.substr(0, start), out);
        held_.erase(0, start + kCallStart.size());
        in_call_ = true;
        name_sent_ = false;
        name_scan_done_ = false;
        searched_ = 0;
      }
      // held_ is now the call's body so far; look for </tool_call> only where it can newly appear.
      const auto end = held_.find(kCallEnd, searched_ > kCallEnd.size() ? searched_ - kCallEnd.size() : 0);
      if (end == std::string::npos) {
        searched_ = held_.size();
        if (!at_end) {
          send_name_when_known(held_, out);
          return;
        }
        const auto body = std::string_view(held_).substr(0, held_.size() - partial_match_at_end(held_, kCallEnd));
        close_call(body, std::string(kCallStart) + held_, out);
        held_.clear();
        return;
      }
      const std::string body = held_.substr(0, end);
      close_call(body, std::string(kCallStart) + body + std::string(kCallEnd), out);
      held_.erase(0, end + kCallEnd.size());
    }
  }

  void send_name_when_known(std::string_view body, Delta& out) {
    if (name_scan_done_) return;
    auto scan = scan_leading_name(body);
    if (scan.outcome == NameScan::kPending) return;
    name_scan_done_ = true;
    if (scan.outcome == NameScan::kAbsent) return;
    out.tool_calls.push_back(
        {.index = calls_, .id = random_tool_call_id(), .name = std::move(scan.name), .arguments = {}});
    name_sent_ = true;
    called_ = true;
  }

  void close_call(std::string_view body, const std::string& raw_text, Delta& out) {
    in_call_ = false;
    send_name_when_known(body, out);
    const auto call = Json::parse(body, nullptr, false);
    const bool valid = call.is_object() && call.contains("name") && call["name"].is_string();
    std::string arguments;
    if (valid) {
      append_python_json(call.contains("arguments") ? call["arguments"] : Json::object(), arguments);
    } else if (name_sent_) {
      arguments = raw_arguments(body);
    } else {
      add_content(raw_text, out);
      return;
    }
    if (name_sent_) {
      if (!out.tool_calls.empty() && out.tool_calls.back().index == calls_) {
        out.tool_calls.back().arguments += arguments;
      } else if (!arguments.empty()) {
        out.tool_calls.push_back({.index = calls_, .id = {}, .name = {}, .arguments = std::move(arguments)});
      }
    } else {
      out.tool_calls.push_back({.index = calls_,
                                .id = random_tool_call_id(),
                                .name = call["name"].get<std::string>(),
                                .arguments = std::move(arguments)});
      called_ = true;
    }
    ++calls_;
  }

  void add_content(std::string_view text, Delta& out) {
    if (text.empty()) return;
    if (!content_started_) {
      if (text.find_first_not_of(kWhitespace) == std::string_view::npos) {
        pending_whitespace_ += text;
        return;
      }
      out.content += pending_whitespace_;
      pending_whitespace_.clear();
      content_started_ = true;
    }
    out.content += text;
  }

  std::string held_;                // received, not yet decided: a possible "<tool_call>" start, or a call's body
  bool in_call_ = false;
  std::size_t searched_ = 0;        // how much of the body was searched for </tool_call>
  bool name_scan_done_ = false;     // the body's start has shown whether it opens with the name
  bool name_sent_ = false;          // this call's id and name have been sent
  int calls_ = 0;                   // calls sent so far: the next call's index
  bool called_ = false;
  bool content_started_ = false;    // content other than whitespace has been sent
  std::string pending_whitespace_;  // content held until it proves not all whitespace
};

}  // namespace

std::unique_ptr<ToolCallParser> ToolCallParser::create(std::string_view name) {
  if (name != "hermes") throw Error("unknown tool call parser '" + std::string(name) + "' (known: hermes)");
  return std::make_unique<HermesToolCallParser>();
}

}  // namespace llmctl::api
