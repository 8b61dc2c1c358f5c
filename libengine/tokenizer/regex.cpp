#include "tokenizer/regex.hpp"

#include "common/error.hpp"

#define PCRE2_CODE_UNIT_WIDTH 8
#include <pcre2.h>

namespace llmctl::engine {

struct Regex::Compiled {
  pcre2_code* code = nullptr;
  ~Compiled() { pcre2_code_free(code); }
};

Regex::Regex(const std::string& pattern) : compiled_(std::make_unique<Compiled>()) {
  int error = 0;
  PCRE2_SIZE offset = 0;
  compiled_->code = pcre2_compile(reinterpret_cast<PCRE2_SPTR>(pattern.data()), pattern.size(), PCRE2_UTF | PCRE2_UCP,
                                  &error, &offset, nullptr);
  if (compiled_->code == nullptr) {
    PCRE2_UCHAR message[256];
    pcre2_get_error_message(error, message, sizeof message);
    throw Error("invalid regular expression at offset " + std::to_string(offset) + ": " +
                reinterpret_cast<const char*>(message));
  }
  pcre2_jit_compile(compiled_->code, PCRE2_JIT_COMPLETE);  // falls back to the interpreter when JIT is unavailable
}

Regex::~Regex() = default;
Regex::Regex(Regex&&) noexcept = default;
Regex& Regex::operator=(Regex&&) noexcept = default;

std::vector<std::pair<std::size_t, std::size_t>> Regex::find_all(std::string_view text) const {
  std::vector<std::pair<std::size_t, std::size_t>> matches;
  // Match data per call keeps the object usable from several threads.
  const std::unique_ptr<pcre2_match_data, decltype(&pcre2_match_data_free)> match(
      pcre2_match_data_create_from_pattern(compiled_->code, nullptr), &pcre2_match_data_free);
  const auto* subject = reinterpret_cast<PCRE2_SPTR>(text.data());
  std::size_t start = 0;
  while (start <= text.size()) {
    // Callers pass valid UTF-8 (see the header), so PCRE2 need not check it at every call.
    const int rc = pcre2_match(compiled_->code, subject, text.size(), start, PCRE2_NO_UTF_CHECK, match.get(), nullptr);
    if (rc == PCRE2_ERROR_NOMATCH) break;
    if (rc < 0) {  // a resource limit: never split a text differently without saying so
      PCRE2_UCHAR message[256];
      pcre2_get_error_message(rc, message, sizeof message);
      throw Error(std::string("regular expression match failed: ") + reinterpret_cast<const char*>(message));
    }
    const PCRE2_SIZE* ovector = pcre2_get_ovector_pointer(match.get());
    const std::size_t begin = ovector[0], end = ovector[1];
    matches.emplace_back(begin, end);
    start = end;
    if (end == begin) {  // an empty match: the next search starts one character on
      ++start;
      while (start < text.size() && (static_cast<unsigned char>(text[start]) & 0xC0) == 0x80) ++start;
    }
  }
  return matches;
}

namespace {

// The pattern for a literal, quoted with \Q...\E (a \E inside the literal is spliced around).
std::string escape(std::string_view literal) {
  std::string out = "\\Q";
  for (std::size_t pos = 0; pos < literal.size();) {
    const std::size_t end = literal.find("\\E", pos);
    if (end == std::string_view::npos) {
      out.append(literal.substr(pos));
      break;
    }
    out.append(literal.substr(pos, end - pos)).append("\\E\\\\E\\Q");
    pos = end + 2;
  }
  return out + "\\E";
}

}  // namespace

Regex Regex::from_pattern(const nlohmann::json& pattern) {
  if (pattern.contains("String")) return Regex(escape(pattern.at("String").get<std::string>()));
  if (pattern.contains("Regex")) return Regex(pattern.at("Regex").get<std::string>());
  throw Error("a pattern must be {\"String\": ...} or {\"Regex\": ...}");
}

}  // namespace llmctl::engine
