#pragma once

#include <fmt/format.h>

#include <string_view>

namespace llmctl::log {

enum class Level { debug, info, warning, error };

// Parses "debug", "info", "warning" (or "warn"), "error"; throws llmctl::Error otherwise.
Level parse_level(std::string_view name);

// The threshold starts from LLMCTL_LOG_LEVEL (default info); --log-level overrides it.
void set_level(Level level);
Level level();

// Writes "<timestamp> <LEVEL> <message>" to stderr when `level` passes the threshold.
void write(Level level, std::string_view message);

template <class... Args>
void debug(fmt::format_string<Args...> format, Args&&... args) {
  if (level() <= Level::debug) write(Level::debug, fmt::format(format, std::forward<Args>(args)...));
}
template <class... Args>
void info(fmt::format_string<Args...> format, Args&&... args) {
  if (level() <= Level::info) write(Level::info, fmt::format(format, std::forward<Args>(args)...));
}
template <class... Args>
void warning(fmt::format_string<Args...> format, Args&&... args) {
  if (level() <= Level::warning) write(Level::warning, fmt::format(format, std::forward<Args>(args)...));
}

}  // namespace llmctl::log
