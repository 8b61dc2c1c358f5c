#include "tokenizer/jinja/jinja_lexer.hpp"

#include "tokenizer/jinja/jinja_text.hpp"
#include "tokenizer/utf8.hpp"

#include <fmt/format.h>

#include <algorithm>
#include <charconv>
#include <optional>

namespace llmctl::engine::jinja {
namespace {

bool is_digit(char c) { return c >= '0' && c <= '9'; }
bool is_name_start(char c) { return (c >= 'a' && c <= 'z') || (c >= 'A' && c <= 'Z') || c == '_'; }
bool is_name_char(char c) { return is_name_start(c) || is_digit(c); }

int digit_value(char c) {
  if (is_digit(c)) return c - '0';
  if (c >= 'a' && c <= 'z') return c - 'a' + 10;
  if (c >= 'A' && c <= 'Z') return c - 'A' + 10;
  return 99;
}

// Newlines become "\n" and one final newline goes, as Jinja does without keep_trailing_newline.
std::string normalize_newlines(std::string_view source) {
  std::string text;
  text.reserve(source.size());
  for (std::size_t i = 0; i < source.size(); ++i) {
    if (source[i] == '\r') {
      if (i + 1 < source.size() && source[i + 1] == '\n') ++i;
      text += '\n';
    } else {
      text += source[i];
    }
  }
  if (!text.empty() && text.back() == '\n') text.pop_back();
  return text;
}

class Lexer {
 public:
  explicit Lexer(std::string_view source) : source_(normalize_newlines(source)) {
    line_starts_.push_back(0);
    for (std::size_t i = 0; i < source_.size(); ++i)
      if (source_[i] == '\n') line_starts_.push_back(i + 1);
  }

  std::vector<Token> run() {
    try {
      while (pos_ < source_.size()) lex_text_and_tag();
    } catch (const LexError& error) {
      tokens_.push_back({TokenKind::Error, error.message, 0, 0, position_at(error.offset)});
      return std::move(tokens_);
    }
    // Jinja reports an unexpected end of the template at the line of the last token.
    const Position end = tokens_.empty() ? Position{} : tokens_.back().position;
    tokens_.push_back({TokenKind::End, "", 0, 0, end});
    return std::move(tokens_);
  }

 private:
  // What fail() throws to stop lexing; run() turns it into the Error token.
  struct LexError {
    std::size_t offset;
    std::string message;
  };

  std::string source_;
  std::vector<std::size_t> line_starts_;
  std::vector<Token> tokens_;
  std::size_t pos_ = 0;
  // Whether the last tag ended with a newline, so that text before the next tag starts a line.
  bool line_starting_ = true;

  Position position_at(std::size_t offset) const {
    const auto line = std::upper_bound(line_starts_.begin(), line_starts_.end(), offset) - 1;
    const std::string_view before(source_.data() + *line, offset - *line);
    return {static_cast<std::size_t>(line - line_starts_.begin()) + 1, code_point_count(before) + 1};
  }

  [[noreturn]] static void fail(std::size_t offset, std::string message) { throw LexError{offset, std::move(message)}; }

  bool starts_with(std::size_t at, std::string_view text) const { return source_.compare(at, text.size(), text) == 0; }

  std::size_t skip_whitespace(std::size_t at) const {
    while (at < source_.size()) {
      const std::string_view rest(source_.data() + at, std::min<std::size_t>(4, source_.size() - at));
      if (!is_python_space(decode_code_point(rest))) break;
      at += code_points(rest).front().size();
    }
    return at;
  }

  void add(TokenKind kind, std::size_t at, std::string text = "") {
    tokens_.push_back({kind, std::move(text), 0, 0, position_at(at)});
  }

  // The end of a tag at `at` (`close` is '%' or '}'): where what follows it starts, after the
  // whitespace that "-" strips or, for block tags (trim_blocks), one newline, which "+%}" keeps.
  std::optional<std::size_t> match_tag_end(std::size_t at, char close) const {
    const std::string end_text{close, '}'};
    if (starts_with(at, "-" + end_text)) return skip_whitespace(at + 3);
    if (close == '%' && starts_with(at, "+%}")) return at + 3;
    if (!starts_with(at, end_text)) return std::nullopt;
    const bool trim_newline = close == '%' && starts_with(at + 2, "\n");
    return at + 2 + (trim_newline ? 1 : 0);
  }

  char sign_at(std::size_t at) const {
    return at < source_.size() && (source_[at] == '-' || source_[at] == '+') ? source_[at] : '\0';
  }

  // The end of "{% raw %}" or "{% endraw %}" (with optional "-" or "+") at `at`; npos when there is none.
  std::size_t match_raw_tag(std::size_t at, std::string_view word) const {
    if (!starts_with(at, "{%")) return std::string::npos;
    std::size_t i = skip_whitespace(at + 2 + (sign_at(at + 2) != '\0' ? 1 : 0));
    if (!starts_with(i, word)) return std::string::npos;
    i = skip_whitespace(i + word.size());
    if (word == "raw") {  // Jinja drops no newline after "{% raw %}"
      if (starts_with(i, "-%}")) return skip_whitespace(i + 3);
      return starts_with(i, "%}") ? i + 2 : std::string::npos;
    }
    return match_tag_end(i, '%').value_or(std::string::npos);
  }

  // Text before a tag loses its trailing whitespace to a "-" sign, or, under lstrip_blocks, the
  // whitespace that starts its last line when a block tag or comment follows.
  std::string_view strip_before_tag(std::string_view text, char sign, bool is_variable) const {
    if (sign == '-') return python_strip(text, StripSide::Right);
    if (sign == '+' || is_variable) return text;
    const std::size_t line_start = text.rfind('\n') == std::string_view::npos ? 0 : text.rfind('\n') + 1;
    if (line_start == 0 && !line_starting_) return text;
    if (!python_strip(text.substr(line_start), StripSide::Left).empty()) return text;
    return text.substr(0, line_start);
  }

  void add_text(std::size_t at, std::string_view text) {
    if (!text.empty()) add(TokenKind::Text, at, std::string(text));
  }

  void lex_text_and_tag() {
    std::size_t tag = source_.find('{', pos_);
    while (tag != std::string::npos && !(starts_with(tag, "{{") || starts_with(tag, "{%") || starts_with(tag, "{#")))
      tag = source_.find('{', tag + 1);
    if (tag == std::string::npos) {
      add_text(pos_, std::string_view(source_).substr(pos_));
      pos_ = source_.size();
      return;
    }
    const char kind = source_[tag + 1];
    const char sign = sign_at(tag + 2);
    const std::size_t after = tag + 2 + (sign != '\0' ? 1 : 0);
    const std::size_t raw_end = kind == '%' ? match_raw_tag(tag, "raw") : std::string::npos;
    add_text(pos_, strip_before_tag(std::string_view(source_).substr(pos_, tag - pos_), sign, kind == '{'));
    if (raw_end != std::string::npos) {
      line_starting_ = source_[raw_end - 1] == '\n';
      lex_raw_content(tag, raw_end);
    } else if (kind == '#') {
      lex_comment(tag, after);
    } else {
      add(kind == '{' ? TokenKind::VariableBegin : TokenKind::BlockBegin, tag);
      pos_ = after;
      lex_tag_contents(kind == '{' ? '}' : '%');
    }
  }

  void lex_comment(std::size_t begin, std::size_t content) {
    const std::size_t close = source_.find("#}", content);
    if (close == std::string::npos) fail(begin, "Missing end of comment tag");
    const char sign = close > content ? source_[close - 1] : '\0';
    if (sign == '-')
      pos_ = skip_whitespace(close + 2);
    else if (sign == '+')
      pos_ = close + 2;
    else
      pos_ = close + 2 + (starts_with(close + 2, "\n") ? 1 : 0);
    line_starting_ = source_[pos_ - 1] == '\n';
  }

  void lex_raw_content(std::size_t begin, std::size_t content) {
    for (std::size_t at = source_.find("{%", content); at != std::string::npos; at = source_.find("{%", at + 1)) {
      const std::size_t end = match_raw_tag(at, "endraw");
      if (end == std::string::npos) continue;
      add_text(content,
               strip_before_tag(std::string_view(source_).substr(content, at - content), sign_at(at + 2), false));
      pos_ = end;
      line_starting_ = source_[pos_ - 1] == '\n';
      return;
    }
    fail(begin, "Missing end of raw directive");
  }

  // The expression tokens of a {{ }} or {% %} tag, up to its end (`close` is '}' or '%'). An end
  // inside unclosed brackets is read as operators, as Jinja does, so "{{ {'a': 1}}}" works.
  void lex_tag_contents(char close) {
    std::vector<char> brackets;
    while (pos_ < source_.size()) {
      if (brackets.empty()) {
        if (const auto end = match_tag_end(pos_, close)) {
          add(close == '}' ? TokenKind::VariableEnd : TokenKind::BlockEnd, pos_);
          pos_ = *end;
          line_starting_ = source_[pos_ - 1] == '\n';
          return;
        }
      }
      const std::size_t after_space = skip_whitespace(pos_);
      if (after_space > pos_) {
        pos_ = after_space;
      } else if (!lex_number() && !lex_name() && !lex_string()) {
        lex_operator(brackets);
      }
    }
  }

  // `(\d+_)*\d+`: digits with single underscores between them; the end, or `at` when there are none.
  std::size_t match_digits(std::size_t at, int base = 10) const {
    std::size_t i = at;
    while (i < source_.size() && digit_value(source_[i]) < base) {
      ++i;
      if (i + 1 < source_.size() && source_[i] == '_' && digit_value(source_[i + 1]) < base) ++i;
    }
    return i;
  }

  bool lex_number() {
    if (!is_digit(source_[pos_])) return false;
    const std::size_t start = pos_;
    // A float: digits with a fraction, an exponent or both; never right after a dot ("a.0.1").
    const std::size_t whole_end = match_digits(start);
    std::size_t end = whole_end;
    const bool has_fraction = starts_with(end, ".") && match_digits(end + 1) > end + 1;
    if (has_fraction) end = match_digits(end + 1);
    std::size_t exponent_end = end;
    if (end < source_.size() && (source_[end] == 'e' || source_[end] == 'E')) {
      std::size_t digits = end + 1;
      if (digits < source_.size() && (source_[digits] == '+' || source_[digits] == '-')) ++digits;
      if (match_digits(digits) > digits) exponent_end = match_digits(digits);
    }
    const bool after_dot = start > 0 && source_[start - 1] == '.';
    if (!after_dot && (has_fraction || exponent_end > end)) {
      std::string text;
      for (const char c : source_.substr(start, exponent_end - start))
        if (c != '_') text += c;
      Token token{TokenKind::Float, text, 0, 0, position_at(start)};
      std::from_chars(text.data(), text.data() + text.size(), token.number);
      tokens_.push_back(std::move(token));
      pos_ = exponent_end;
      return true;
    }
    // An integer: 0b/0o/0x with digits, a decimal without a leading zero, or zeros.
    int base = 10;
    std::size_t digits_start = start;
    if (source_[start] == '0' && start + 2 < source_.size()) {
      const char prefix = static_cast<char>(source_[start + 1] | 0x20);
      const int prefix_base = prefix == 'b' ? 2 : prefix == 'o' ? 8 : prefix == 'x' ? 16 : 0;
      const std::size_t first = start + 2 + (source_[start + 2] == '_' ? 1 : 0);
      if (prefix_base > 0 && first < source_.size() && digit_value(source_[first]) < prefix_base) {
        base = prefix_base;
        digits_start = first;
      }
    }
    std::size_t digits_end = match_digits(digits_start, base);
    if (base == 10 && source_[start] == '0') {
      digits_end = start + 1;  // only zeros may follow a leading zero
      while (digits_end < source_.size() &&
             (source_[digits_end] == '0' || (source_[digits_end] == '_' && starts_with(digits_end + 1, "0"))))
        ++digits_end;
    }
    std::string digits;
    for (const char c : source_.substr(digits_start, digits_end - digits_start))
      if (c != '_') digits += c;
    Token token{TokenKind::Integer, source_.substr(start, digits_end - start), 0, 0, position_at(start)};
    const auto result = std::from_chars(digits.data(), digits.data() + digits.size(), token.integer, base);
    if (result.ec != std::errc{}) fail(start, "integer literal is too large");
    tokens_.push_back(std::move(token));
    pos_ = digits_end;
    return true;
  }

  bool lex_name() {
    if (!is_name_start(source_[pos_])) return false;
    const std::size_t start = pos_;
    while (pos_ < source_.size() && is_name_char(source_[pos_])) ++pos_;
    add(TokenKind::Name, start, source_.substr(start, pos_ - start));
    return true;
  }

  bool lex_string() {
    const char quote = source_[pos_];
    if (quote != '\'' && quote != '"') return false;
    std::size_t i = pos_ + 1;
    while (i < source_.size() && source_[i] != quote) i += source_[i] == '\\' ? 2 : 1;
    if (i >= source_.size()) return false;  // unterminated: Jinja reports the quote as unexpected
    const std::size_t start = pos_;
    add(TokenKind::String, start, unescape(start, std::string_view(source_).substr(start + 1, i - start - 1)));
    pos_ = i + 1;
    return true;
  }

  // Decodes backslash escapes as Python's "unicode-escape" codec does; unknown ones stay as written.
  std::string unescape(std::size_t at, std::string_view body) const {
    std::string out;
    for (std::size_t i = 0; i < body.size();) {
      if (body[i] != '\\' || i + 1 == body.size()) {
        out += body[i++];
        continue;
      }
      const char escape = body[i + 1];
      i += 2;
      const auto hex = [&](std::size_t count, std::string_view name) {
        char32_t value = 0;
        for (std::size_t k = 0; k < count; ++k, ++i) {
          if (i >= body.size() || digit_value(body[i]) >= 16) fail(at, fmt::format("truncated \\{} escape", name));
          value = value * 16 + static_cast<char32_t>(digit_value(body[i]));
        }
        if (value > 0x10FFFF) fail(at, "illegal Unicode character");
        utf8::append_code_point(out, value);
      };
      switch (escape) {
        case '\n':
          break;  // a backslash at the end of a line continues it
        case 'a':
          out += '\a';
          break;
        case 'b':
          out += '\b';
          break;
        case 'f':
          out += '\f';
          break;
        case 'n':
          out += '\n';
          break;
        case 'r':
          out += '\r';
          break;
        case 't':
          out += '\t';
          break;
        case 'v':
          out += '\v';
          break;
        case 'x':
          hex(2, "xXX");
          break;
        case 'u':
          hex(4, "uXXXX");
          break;
        case 'U':
          hex(8, "UXXXXXXXX");
          break;
        case 'N':
          fail(at, "\\N{...} escapes are not supported");
        case '\\':
        case '\'':
        case '"':
          out += escape;
          break;
        default:
          if (escape >= '0' && escape <= '7') {
            char32_t value = static_cast<char32_t>(escape - '0');
            for (int k = 0; k < 2 && i < body.size() && body[i] >= '0' && body[i] <= '7'; ++k, ++i)
              value = value * 8 + static_cast<char32_t>(body[i] - '0');
            utf8::append_code_point(out, value);
          } else {
            out += '\\';
            out += escape;
          }
      }
    }
    return out;
  }

  void lex_operator(std::vector<char>& brackets) {
    static constexpr std::string_view kTwoCharacter[] = {"//", "**", "==", "!=", ">=", "<="};
    static constexpr std::string_view kOneCharacter = "+-/*%~[](){}<>=.:|,;";
    std::size_t length = 0;
    for (const auto op : kTwoCharacter)
      if (starts_with(pos_, op)) length = 2;
    if (length == 0 && kOneCharacter.find(source_[pos_]) != std::string_view::npos) length = 1;
    if (length == 0) {
      const auto character = code_points(std::string_view(source_).substr(pos_, 4)).front();
      fail(pos_, fmt::format("unexpected char {} at {}", python_string_repr(character),
                             code_point_count(std::string_view(source_).substr(0, pos_))));
    }
    const std::string op = source_.substr(pos_, length);
    if (op == "(" || op == "[" || op == "{") {
      brackets.push_back(op == "(" ? ')' : op == "[" ? ']' : '}');
    } else if (op == ")" || op == "]" || op == "}") {
      if (brackets.empty()) fail(pos_, fmt::format("unexpected '{}'", op));
      if (brackets.back() != op[0]) fail(pos_, fmt::format("unexpected '{}', expected '{}'", op, brackets.back()));
      brackets.pop_back();
    }
    add(TokenKind::Operator, pos_, op);
    pos_ += length;
  }
};

}  // namespace

std::vector<Token> tokenize(std::string_view source) { return Lexer(source).run(); }

}  // namespace llmctl::engine::jinja
