#pragma once

#include <cstdint>
#include <optional>
#include <string>
#include <string_view>
#include <vector>

// Python's text rules applied to UTF-8. Python strings are sequences of code points, so every length,
// index and slice here counts code points, never bytes.
namespace llmctl::engine::jinja {

// The code points of `text`, each as the bytes that spell it; a byte of broken UTF-8 stands alone.
std::vector<std::string_view> code_points(std::string_view text);
std::size_t code_point_count(std::string_view text);
// The code point that `bytes` starts with (U+FFFD for broken UTF-8).
char32_t decode_code_point(std::string_view bytes);

// str.isspace(): what split() and strip() remove when given no characters.
bool is_python_space(char32_t code_point);

enum class StripSide { Left, Right, Both };
// str.strip/lstrip/rstrip: removes whitespace, or any of the code points in `chars`.
std::string_view python_strip(std::string_view text, StripSide side,
                              std::optional<std::string_view> chars = std::nullopt);

// str.split/rsplit: without a separator splits at runs of whitespace and drops empty parts.
// `max_split` < 0 means no limit. An empty separator is an error.
std::vector<std::string> python_split(std::string_view text, std::optional<std::string_view> separator,
                                      std::int64_t max_split);
std::vector<std::string> python_rsplit(std::string_view text, std::optional<std::string_view> separator,
                                       std::int64_t max_split);

// str.replace: the first `count` occurrences (all when negative); an empty `old` matches around
// every code point.
std::string python_replace(std::string_view text, std::string_view old, std::string_view replacement,
                           std::int64_t count);

// str.splitlines(): splits at \n, \r\n, \r and the other Unicode line boundaries.
std::vector<std::string_view> python_splitlines(std::string_view text);

// str.upper(), str.lower() and str.capitalize(): Unicode's simple case mappings (utf8proc), plus
// Python's special cases ß -> SS, ŉ -> ʼN, İ -> i̇ and a word-final Σ -> ς.
std::string python_upper(std::string_view text);
std::string python_lower(std::string_view text);
std::string python_capitalize(std::string_view text);
// By Unicode general category: what str.isupper(), islower(), isalpha(), isdigit() and title() and
// the regex \w look at.
bool is_upper_case(char32_t code_point);
bool is_lower_case(char32_t code_point);
bool is_letter(char32_t code_point);
bool is_decimal_digit(char32_t code_point);
bool is_word_character(char32_t code_point);

// repr(str): quoted with ' unless the text holds ' and no ", non-printable characters escaped.
std::string python_string_repr(std::string_view text);

// repr(float): the shortest digits that read back as the same double ("1.0", "1e-05", "0.1", "inf").
std::string python_float_repr(double value);

}  // namespace llmctl::engine::jinja
