#include "tokenizer/jinja/jinja_text.hpp"

#include "tokenizer/jinja/jinja_error.hpp"
#include "tokenizer/utf8.hpp"

#include <utf8proc.h>

#include <fmt/format.h>

#include <algorithm>
#include <charconv>
#include <cmath>
#include <limits>

namespace llmctl::engine::jinja {
namespace {

bool is_space_at(std::string_view text, std::size_t offset) {
  return is_python_space(decode_code_point(text.substr(offset)));
}

utf8proc_category_t category(char32_t c) { return utf8proc_category(static_cast<utf8proc_int32_t>(c)); }

// What str.isprintable() rejects: controls, format characters, surrogates, private use, unassigned
// code points, and separators other than the ASCII space.
bool is_unprintable(char32_t c) {
  switch (category(c)) {
    case UTF8PROC_CATEGORY_CC:
    case UTF8PROC_CATEGORY_CF:
    case UTF8PROC_CATEGORY_CS:
    case UTF8PROC_CATEGORY_CO:
    case UTF8PROC_CATEGORY_CN:
    case UTF8PROC_CATEGORY_ZL:
    case UTF8PROC_CATEGORY_ZP:
      return true;
    case UTF8PROC_CATEGORY_ZS:
      return c != ' ';
    default:
      return false;
  }
}

char32_t lower_case(char32_t c) { return static_cast<char32_t>(utf8proc_tolower(static_cast<utf8proc_int32_t>(c))); }
char32_t upper_case(char32_t c) { return static_cast<char32_t>(utf8proc_toupper(static_cast<utf8proc_int32_t>(c))); }

// Python's "cased" letters, which decide whether a capital sigma ends a word.
bool is_cased(char32_t c) {
  const auto kind = category(c);
  return kind == UTF8PROC_CATEGORY_LU || kind == UTF8PROC_CATEGORY_LL || kind == UTF8PROC_CATEGORY_LT;
}

}  // namespace

std::vector<std::string_view> code_points(std::string_view text) {
  std::vector<std::string_view> points;
  points.reserve(text.size());
  for (std::size_t offset = 0; offset < text.size();) {
    const std::size_t length = utf8::character_length(text, offset);
    points.push_back(text.substr(offset, length));
    offset += length;
  }
  return points;
}

std::size_t code_point_count(std::string_view text) {
  std::size_t count = 0;
  for (std::size_t offset = 0; offset < text.size(); offset += utf8::character_length(text, offset)) ++count;
  return count;
}

char32_t decode_code_point(std::string_view bytes) {
  std::size_t pos = 0;
  return utf8::next_code_point(bytes, pos);
}

bool is_python_space(char32_t c) {
  return (c >= 0x09 && c <= 0x0D) || (c >= 0x1C && c <= 0x20) || c == 0x85 || c == 0xA0 || c == 0x1680 ||
         (c >= 0x2000 && c <= 0x200A) || c == 0x2028 || c == 0x2029 || c == 0x202F || c == 0x205F || c == 0x3000;
}

std::string_view python_strip(std::string_view text, StripSide side, std::optional<std::string_view> chars) {
  const auto points = code_points(text);
  const auto strippable = [&](std::string_view point) {
    if (!chars) return is_python_space(decode_code_point(point));
    for (const auto candidate : code_points(*chars))
      if (candidate == point) return true;
    return false;
  };
  std::size_t begin = 0;
  std::size_t end = points.size();
  if (side != StripSide::Right)
    while (begin < end && strippable(points[begin])) ++begin;
  if (side != StripSide::Left)
    while (end > begin && strippable(points[end - 1])) --end;
  if (begin == end) return {};
  const auto first = static_cast<std::size_t>(points[begin].data() - text.data());
  const auto last = static_cast<std::size_t>(points[end - 1].data() - text.data()) + points[end - 1].size();
  return text.substr(first, last - first);
}

std::vector<std::string> python_split(std::string_view text, std::optional<std::string_view> separator,
                                      std::int64_t max_split) {
  std::vector<std::string> parts;
  auto splits_left = max_split < 0 ? std::numeric_limits<std::int64_t>::max() : max_split;
  if (separator) {
    if (separator->empty()) throw RenderError("empty separator");
    std::size_t start = 0;
    for (std::size_t found; splits_left > 0 && (found = text.find(*separator, start)) != std::string_view::npos;
         --splits_left) {
      parts.emplace_back(text.substr(start, found - start));
      start = found + separator->size();
    }
    parts.emplace_back(text.substr(start));
    return parts;
  }
  std::size_t i = 0;
  for (; splits_left > 0; --splits_left) {
    while (i < text.size() && is_space_at(text, i)) i += utf8::character_length(text, i);
    if (i == text.size()) break;
    const std::size_t start = i;
    while (i < text.size() && !is_space_at(text, i)) i += utf8::character_length(text, i);
    parts.emplace_back(text.substr(start, i - start));
  }
  // The limit was reached: the rest, less its leading whitespace, is the last part.
  while (i < text.size() && is_space_at(text, i)) i += utf8::character_length(text, i);
  if (i < text.size()) parts.emplace_back(text.substr(i));
  return parts;
}

std::vector<std::string> python_rsplit(std::string_view text, std::optional<std::string_view> separator,
                                       std::int64_t max_split) {
  std::vector<std::string> parts;
  auto splits_left = max_split < 0 ? std::numeric_limits<std::int64_t>::max() : max_split;
  if (separator) {
    if (separator->empty()) throw RenderError("empty separator");
    std::size_t end = text.size();
    for (; splits_left > 0 && end >= separator->size(); --splits_left) {
      const std::size_t found = text.substr(0, end).rfind(*separator);
      if (found == std::string_view::npos) break;
      parts.emplace_back(text.substr(found + separator->size(), end - found - separator->size()));
      end = found;
    }
    parts.emplace_back(text.substr(0, end));
    std::reverse(parts.begin(), parts.end());
    return parts;
  }
  const auto points = code_points(text);
  const auto offset_of = [&](std::size_t index) {
    return index == points.size() ? text.size() : static_cast<std::size_t>(points[index].data() - text.data());
  };
  const auto space = [&](std::size_t index) { return is_python_space(decode_code_point(points[index])); };
  std::size_t i = points.size();
  for (; splits_left > 0; --splits_left) {
    while (i > 0 && space(i - 1)) --i;
    if (i == 0) break;
    const std::size_t end = i;
    while (i > 0 && !space(i - 1)) --i;
    parts.emplace_back(text.substr(offset_of(i), offset_of(end) - offset_of(i)));
  }
  while (i > 0 && space(i - 1)) --i;
  if (i > 0) parts.emplace_back(text.substr(0, offset_of(i)));
  std::reverse(parts.begin(), parts.end());
  return parts;
}

std::string python_replace(std::string_view text, std::string_view old, std::string_view replacement,
                           std::int64_t count) {
  std::string out;
  std::int64_t done = 0;
  if (old.empty()) {  // Python inserts the replacement around every code point
    for (const auto point : code_points(text)) {
      if (count < 0 || done++ < count) out += replacement;
      out += point;
    }
    if (count < 0 || done < count) out += replacement;
    return out;
  }
  std::size_t start = 0;
  for (std::size_t found; (count < 0 || done < count) && (found = text.find(old, start)) != std::string_view::npos;
       ++done) {
    out += text.substr(start, found - start);
    out += replacement;
    start = found + old.size();
  }
  out += text.substr(start);
  return out;
}

std::vector<std::string_view> python_splitlines(std::string_view text) {
  std::vector<std::string_view> lines;
  std::size_t start = 0;
  std::size_t i = 0;
  while (i < text.size()) {
    const std::size_t length = utf8::character_length(text, i);
    const char32_t c = decode_code_point(text.substr(i));
    const bool boundary = c == '\n' || c == '\r' || c == 0x0B || c == 0x0C || (c >= 0x1C && c <= 0x1E) || c == 0x85 ||
                          c == 0x2028 || c == 0x2029;
    if (!boundary) {
      i += length;
      continue;
    }
    lines.push_back(text.substr(start, i - start));
    i += length;
    if (c == '\r' && i < text.size() && text[i] == '\n') ++i;
    start = i;
  }
  if (start < text.size()) lines.push_back(text.substr(start));
  return lines;
}

std::string python_upper(std::string_view text) {
  std::string out;
  for (const auto point : code_points(text)) {
    const char32_t c = decode_code_point(point);
    if (c == 0xDF)
      out += "SS";  // ß
    else if (c == 0x149)
      out += "\u02BCN";  // ŉ
    else
      utf8::append_code_point(out, upper_case(c));
  }
  return out;
}

std::string python_lower(std::string_view text) {
  std::string out;
  const auto points = code_points(text);
  for (std::size_t i = 0; i < points.size(); ++i) {
    const char32_t c = decode_code_point(points[i]);
    if (c == 0x130) {  // İ
      out += "i\u0307";
    } else if (c == 0x3A3) {  // Σ ends a word as ς
      const bool after_letter = i > 0 && is_cased(decode_code_point(points[i - 1]));
      const bool before_letter = i + 1 < points.size() && is_cased(decode_code_point(points[i + 1]));
      utf8::append_code_point(out, after_letter && !before_letter ? 0x3C2 : 0x3C3);
    } else {
      utf8::append_code_point(out, lower_case(c));
    }
  }
  return out;
}

std::string python_capitalize(std::string_view text) {
  if (text.empty()) return "";
  const std::string_view first = code_points(text).front();
  return python_upper(first) + python_lower(text.substr(first.size()));
}

bool is_upper_case(char32_t c) { return category(c) == UTF8PROC_CATEGORY_LU; }
bool is_lower_case(char32_t c) { return category(c) == UTF8PROC_CATEGORY_LL; }
bool is_letter(char32_t c) {
  const auto kind = category(c);
  return kind >= UTF8PROC_CATEGORY_LU && kind <= UTF8PROC_CATEGORY_LO;
}
bool is_decimal_digit(char32_t c) { return category(c) == UTF8PROC_CATEGORY_ND; }
bool is_word_character(char32_t c) {
  const auto kind = category(c);
  return is_letter(c) || (kind >= UTF8PROC_CATEGORY_ND && kind <= UTF8PROC_CATEGORY_NO) || c == '_';
}

std::string python_string_repr(std::string_view text) {
  const char quote = text.find('\'') != std::string_view::npos && text.find('"') == std::string_view::npos ? '"' : '\'';
  std::string out(1, quote);
  for (const auto point : code_points(text)) {
    const char32_t c = decode_code_point(point);
    if (c == static_cast<char32_t>(quote) || c == '\\') {
      out += '\\';
      out += static_cast<char>(c);
    } else if (c == '\n') {
      out += "\\n";
    } else if (c == '\r') {
      out += "\\r";
    } else if (c == '\t') {
      out += "\\t";
    } else if (is_unprintable(c)) {
      if (c < 0x100)
        out += fmt::format("\\x{:02x}", static_cast<std::uint32_t>(c));
      else if (c < 0x10000)
        out += fmt::format("\\u{:04x}", static_cast<std::uint32_t>(c));
      else
        out += fmt::format("\\U{:08x}", static_cast<std::uint32_t>(c));
    } else {
      out += point;
    }
  }
  out += quote;
  return out;
}

std::string python_float_repr(double value) {
  if (std::isnan(value)) return "nan";
  if (std::isinf(value)) return value > 0 ? "inf" : "-inf";
  // to_chars gives the shortest round-trip digits as "-d.ddde+XX"; Python lays them out itself.
  char buffer[64];
  const auto result = std::to_chars(buffer, buffer + sizeof buffer, value, std::chars_format::scientific);
  const std::string_view scientific(buffer, static_cast<std::size_t>(result.ptr - buffer));
  const std::size_t e = scientific.find('e');
  const bool negative = scientific[0] == '-';
  std::string digits;
  for (const char c : scientific.substr(negative ? 1 : 0, e - (negative ? 1 : 0)))
    if (c != '.') digits += c;
  int exponent = 0;
  const auto exponent_text = scientific.substr(e + (scientific[e + 1] == '+' ? 2 : 1));
  std::from_chars(exponent_text.data(), exponent_text.data() + exponent_text.size(), exponent);
  const int point = exponent + 1;  // digits are 0.DIGITS x 10^point
  const int digit_count = static_cast<int>(digits.size());
  std::string out = negative ? "-" : "";
  if (point <= -4 || point > 16) {
    out += digits.substr(0, 1);
    if (digits.size() > 1) out += "." + digits.substr(1);
    out += fmt::format("e{}{:02d}", exponent < 0 ? '-' : '+', std::abs(exponent));
  } else if (point <= 0) {
    out += "0." + std::string(static_cast<std::size_t>(-point), '0') + digits;
  } else if (point >= digit_count) {
    out += digits + std::string(static_cast<std::size_t>(point - digit_count), '0') + ".0";
  } else {
    out += digits.substr(0, static_cast<std::size_t>(point)) + "." + digits.substr(static_cast<std::size_t>(point));
  }
  return out;
}

}  // namespace llmctl::engine::jinja
