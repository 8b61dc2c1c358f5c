#include "tokenizer/decoder.hpp"

#include "common/error.hpp"
#include "tokenizer/byte_level.hpp"
#include "tokenizer/normalizer.hpp"
#include "tokenizer/utf8.hpp"

#include <optional>

namespace llmctl::engine {
namespace {

constexpr const char* kReplacementCharacter = "\xEF\xBF\xBD";

// Every token's characters back to the bytes they spell (tokens that are not byte-level text, such
// as some added tokens, stay as they are); one piece of valid UTF-8.
void byte_level_decode(std::vector<std::string>& tokens) {
  std::string bytes;
  for (const auto& token : tokens) {
    if (auto spelled = byte_level::text_to_bytes(token)) {
      bytes += *spelled;
    } else {
      bytes += token;
    }
  }
  tokens.assign(1, utf8::to_valid_lossy(bytes));
}

std::optional<char> fallback_byte(const std::string& token) {
  if (token.size() != 6 || token.compare(0, 3, "<0x") != 0 || token.back() != '>') return std::nullopt;
  const auto hex = [](char c) -> int {
    if (c >= '0' && c <= '9') return c - '0';
    if (c >= 'A' && c <= 'F') return c - 'A' + 10;
    if (c >= 'a' && c <= 'f') return c - 'a' + 10;
    return -1;
  };
  const int high = hex(token[3]), low = hex(token[4]);
  if (high < 0 || low < 0) return std::nullopt;
  return static_cast<char>(high * 16 + low);
}

// Runs of "<0xNN>" tokens become their text when the bytes are valid UTF-8, else one U+FFFD per byte.
void byte_fallback_decode(std::vector<std::string>& tokens) {
  std::vector<std::string> out;
  std::string pending;
  std::size_t pending_count = 0;
  const auto flush = [&] {
    if (pending_count == 0) return;
    if (utf8::is_valid(pending)) {
      out.push_back(pending);
    } else {
      for (std::size_t i = 0; i < pending_count; ++i) out.emplace_back(kReplacementCharacter);
    }
    pending.clear();
    pending_count = 0;
  };
  for (auto& token : tokens) {
    if (const auto byte = fallback_byte(token)) {
      pending += *byte;
      ++pending_count;
    } else {
      flush();
      out.push_back(std::move(token));
    }
  }
  flush();
  tokens = std::move(out);
}

// Up to `start` leading and `stop` trailing copies of `content` removed from every token.
void strip_decode(std::vector<std::string>& tokens, const std::string& content, std::size_t start, std::size_t stop) {
  for (auto& token : tokens) {
    std::size_t begin = 0, end = token.size();
    for (std::size_t i = 0; i < start && token.compare(begin, content.size(), content) == 0 && begin < end; ++i) {
      begin += content.size();
    }
    for (std::size_t i = 0; i < stop && end - begin >= content.size() &&
                            token.compare(end - content.size(), content.size(), content) == 0;
         ++i) {
      end -= content.size();
    }
    token = token.substr(begin, end - begin);
  }
}

// "▁" back to spaces; the first token loses its "▁" entirely unless nothing was prepended.
Decoder metaspace_decoder(const nlohmann::json& spec) {
  const std::string replacement = spec.value("replacement", std::string("\u2581"));
  const std::string scheme = spec.value("prepend_scheme", spec.value("add_prefix_space", true) ? "always" : "never");
  return [replacement, drop_first = scheme != "never"](std::vector<std::string>& tokens) {
    for (std::size_t i = 0; i < tokens.size(); ++i) {
      std::string out;
      const std::string& token = tokens[i];
      for (std::size_t pos = 0; pos < token.size();) {
        if (token.compare(pos, replacement.size(), replacement) == 0) {
          if (i > 0 || !drop_first) out += ' ';
          pos += replacement.size();
        } else {
          out += token[pos++];
        }
      }
      tokens[i] = std::move(out);
    }
  };
}

}  // namespace

Decoder make_decoder(const nlohmann::json& spec) {
  if (spec.is_null()) return {};
  const std::string type = spec.at("type").get<std::string>();
  if (type == "ByteLevel") return byte_level_decode;
  if (type == "ByteFallback") return byte_fallback_decode;
  if (type == "Metaspace") return metaspace_decoder(spec);
  if (type == "Fuse") {
    return [](std::vector<std::string>& tokens) {
      std::string joined;
      for (const auto& token : tokens) joined += token;
      tokens.assign(1, std::move(joined));
    };
  }
  if (type == "Strip") {
    const std::string content = spec.at("content").get<std::string>();
    const auto start = spec.at("start").get<std::size_t>(), stop = spec.at("stop").get<std::size_t>();
    return [content, start, stop](std::vector<std::string>& tokens) { strip_decode(tokens, content, start, stop); };
  }
  if (type == "Replace") {
    auto replace = make_replacer(spec.at("pattern"), spec.at("content").get<std::string>());
    return [replace](std::vector<std::string>& tokens) {
      for (auto& token : tokens) token = replace(token);
    };
  }
  if (type == "Sequence") {
    std::vector<Decoder> steps;
    for (const auto& step : spec.at("decoders")) {
      if (auto decoder = make_decoder(step)) steps.push_back(std::move(decoder));
    }
    return [steps = std::move(steps)](std::vector<std::string>& tokens) {
      for (const auto& step : steps) step(tokens);
    };
  }
  throw Error("decoder type \"" + type + "\" is not supported");
}

}  // namespace llmctl::engine
