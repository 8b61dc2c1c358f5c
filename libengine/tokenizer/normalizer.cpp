#include "tokenizer/normalizer.hpp"

#include "common/error.hpp"
#include "tokenizer/regex.hpp"
#include "tokenizer/utf8.hpp"

#include <utf8proc.h>

#include <algorithm>
#include <cstdlib>
#include <memory>
#include <vector>

namespace llmctl::engine {
namespace {

bool is_ascii(std::string_view text) {
  return std::all_of(text.begin(), text.end(), [](char c) { return static_cast<unsigned char>(c) < 0x80; });
}

Normalizer unicode_form(utf8proc_option_t options) {
  return [options](std::string_view text) -> std::string {
    if (is_ascii(text)) return std::string(text);  // every normalization form leaves ASCII alone
    utf8proc_uint8_t* result = nullptr;
    const auto length = utf8proc_map(reinterpret_cast<const utf8proc_uint8_t*>(text.data()),
                                     static_cast<utf8proc_ssize_t>(text.size()), &result,
                                     static_cast<utf8proc_option_t>(options | UTF8PROC_STABLE));
    if (length < 0) throw Error(std::string("cannot normalize text: ") + utf8proc_errmsg(length));
    std::string normalized(reinterpret_cast<const char*>(result), static_cast<std::size_t>(length));
    std::free(result);
    return normalized;
  };
}

std::string lowercase(std::string_view text) {
  std::string out;
  out.reserve(text.size());
  for (std::size_t pos = 0; pos < text.size();) {
    const char32_t c = utf8::next_code_point(text, pos);
    utf8::append_code_point(out, static_cast<char32_t>(utf8proc_tolower(static_cast<utf8proc_int32_t>(c))));
  }
  return out;
}

std::string strip_whitespace(std::string_view text, bool left, bool right) {
  std::size_t begin = 0, end = text.size();
  if (left) {
    for (std::size_t pos = 0; pos < text.size();) {
      if (!utf8::is_whitespace(utf8::next_code_point(text, pos))) break;
      begin = pos;
    }
  }
  if (right) {
    while (end > begin) {
      std::size_t start = end - 1;
      while (start > begin && (static_cast<unsigned char>(text[start]) & 0xC0) == 0x80) --start;
      std::size_t pos = start;
      if (!utf8::is_whitespace(utf8::next_code_point(text, pos))) break;
      end = start;
    }
  }
  return std::string(text.substr(begin, end - begin));
}

}  // namespace

std::function<std::string(std::string_view)> make_replacer(const nlohmann::json& pattern, const std::string& content) {
  auto regex = std::make_shared<Regex>(Regex::from_pattern(pattern));
  return [regex, content](std::string_view text) {
    std::string out;
    std::size_t last = 0;
    for (const auto& [begin, end] : regex->find_all(text)) {
      out.append(text.substr(last, begin - last)).append(content);
      last = end;
    }
    return out.append(text.substr(last));
  };
}

Normalizer make_normalizer(const nlohmann::json& spec) {
  if (spec.is_null()) return {};
  const std::string type = spec.at("type").get<std::string>();
  if (type == "NFC") return unicode_form(UTF8PROC_COMPOSE);
  if (type == "NFD") return unicode_form(UTF8PROC_DECOMPOSE);
  if (type == "NFKC") return unicode_form(static_cast<utf8proc_option_t>(UTF8PROC_COMPOSE | UTF8PROC_COMPAT));
  if (type == "NFKD") return unicode_form(static_cast<utf8proc_option_t>(UTF8PROC_DECOMPOSE | UTF8PROC_COMPAT));
  if (type == "Lowercase") return lowercase;
  if (type == "Strip") {
    const bool left = spec.value("strip_left", true), right = spec.value("strip_right", true);
    return [left, right](std::string_view text) { return strip_whitespace(text, left, right); };
  }
  if (type == "Prepend") {
    const std::string prefix = spec.at("prepend").get<std::string>();
    return [prefix](std::string_view text) { return text.empty() ? std::string() : prefix + std::string(text); };
  }
  if (type == "Replace") return make_replacer(spec.at("pattern"), spec.at("content").get<std::string>());
  if (type == "Sequence") {
    std::vector<Normalizer> steps;
    for (const auto& step : spec.at("normalizers")) {
      if (auto normalizer = make_normalizer(step)) steps.push_back(std::move(normalizer));
    }
    return [steps = std::move(steps)](std::string_view text) {
      std::string current(text);
      for (const auto& step : steps) current = step(current);
      return current;
    };
  }
  throw Error("normalizer type \"" + type + "\" is not supported");
}

}  // namespace llmctl::engine
