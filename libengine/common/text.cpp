#include "common/text.hpp"

#include <fmt/format.h>

#include <algorithm>
#include <cctype>
#include <cmath>
#include <numeric>

namespace llmctl {

std::size_t partial_match_at_end(std::string_view text, std::string_view pattern) {
  if (pattern.empty()) return 0;
  for (std::size_t n = std::min(text.size(), pattern.size() - 1); n > 0; --n)
    if (text.ends_with(pattern.substr(0, n))) return n;
  return 0;
}

std::string to_lower(std::string_view text) {
  std::string lower(text);
  std::transform(lower.begin(), lower.end(), lower.begin(), [](unsigned char c) { return std::tolower(c); });
  return lower;
}

std::size_t edit_distance(std::string_view a, std::string_view b) {
  std::vector<std::size_t> row(b.size() + 1);
  std::iota(row.begin(), row.end(), std::size_t{0});
  for (std::size_t i = 1; i <= a.size(); ++i) {
    std::size_t diagonal = row[0];
    row[0] = i;
    for (std::size_t j = 1; j <= b.size(); ++j) {
      const std::size_t above = row[j];
      row[j] = std::min({row[j] + 1, row[j - 1] + 1, diagonal + (a[i - 1] == b[j - 1] ? 0 : 1)});
      diagonal = above;
    }
  }
  return row[b.size()];
}

std::string closest_match(std::string_view word, const std::vector<std::string_view>& candidates) {
  std::string_view best;
  std::size_t best_distance = SIZE_MAX;
  for (const auto candidate : candidates) {
    const auto distance = edit_distance(word, candidate);
    if (distance < best_distance) {
      best = candidate;
      best_distance = distance;
    }
  }
  return std::string(best);
}

std::string format_bytes(double bytes) {
  static constexpr const char* kUnits[] = {"B", "KiB", "MiB", "GiB", "TiB"};
  int unit = 0;
  const bool negative = bytes < 0;
  double value = negative ? -bytes : bytes;
  while (value >= 1024.0 && unit < 4) {
    value /= 1024.0;
    ++unit;
  }
  if (unit == 0) return fmt::format("{}{:.0f} B", negative ? "-" : "", value);
  return fmt::format("{}{:.2f} {}", negative ? "-" : "", value, kUnits[unit]);
}

std::string format_thousands(std::uint64_t value) {
  const std::string digits = std::to_string(value);
  std::string grouped;
  for (std::size_t i = 0; i < digits.size(); ++i) {
    if (i > 0 && (digits.size() - i) % 3 == 0) grouped += ',';
    grouped += digits[i];
  }
  return grouped;
}

std::string format_count(std::uint64_t value) {
  const auto v = static_cast<double>(value);
  if (value >= 1'000'000'000) return fmt::format("{:.2f}B", v / 1e9);
  if (value >= 1'000'000) return fmt::format("{:.1f}M", v / 1e6);
  if (value >= 1'000) return fmt::format("{:.1f}K", v / 1e3);
  return std::to_string(value);
}

std::string format_number(double value) {
  if (value == std::floor(value) && std::fabs(value) < 1e15) return fmt::format("{:.0f}", value);
  return fmt::format("{:g}", value);
}

}  // namespace llmctl
