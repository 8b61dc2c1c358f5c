#pragma once

#include <cstdint>
#include <string>
#include <string_view>
#include <vector>

namespace llmctl {

std::string to_lower(std::string_view text);

// The length of the longest end of `text` that begins `pattern` without completing it: text that more
// text may still turn into `pattern` (a stop string, a tag), so a stream must hold it back.
std::size_t partial_match_at_end(std::string_view text, std::string_view pattern);

// Levenshtein distance, for "did you mean" suggestions.
std::size_t edit_distance(std::string_view a, std::string_view b);

// The candidate closest to `word` by edit distance (the first of equals); empty when there are none.
std::string closest_match(std::string_view word, const std::vector<std::string_view>& candidates);

// Byte counts for people: "14.19 GiB", "56.00 KiB", "512 B".
std::string format_bytes(double bytes);

// "7,615,616,512"
std::string format_thousands(std::uint64_t value);

// Parameter counts for people: "7.62B", "494.0M", "139.7K".
std::string format_count(std::uint64_t value);

// Integral values without an exponent or decimals ("1000000"), others in shortest form ("1e-06").
std::string format_number(double value);

}  // namespace llmctl
