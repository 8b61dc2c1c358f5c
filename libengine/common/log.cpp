#include "common/log.hpp"

#include "common/error.hpp"

#include <atomic>
#include <chrono>
#include <cstdio>
#include <cstdlib>
#include <ctime>
#include <string>

namespace llmctl::log {
namespace {

Level initial_level() {
  const char* env = std::getenv("LLMCTL_LOG_LEVEL");
  if (env == nullptr || *env == '\0') return Level::info;
  try {
    return parse_level(env);
  } catch (const Error&) {
    return Level::info;  // a bad environment value must not stop the program; --log-level is checked
  }
}

std::atomic<Level>& threshold() {
  static std::atomic<Level> value{initial_level()};
  return value;
}

const char* level_name(Level level) {
  switch (level) {
    case Level::debug: return "DEBUG";
    case Level::info: return "INFO";
    case Level::warning: return "WARNING";
    case Level::error: return "ERROR";
  }
  return "?";
}

}  // namespace

Level parse_level(std::string_view name) {
  if (name == "debug") return Level::debug;
  if (name == "info") return Level::info;
  if (name == "warning" || name == "warn") return Level::warning;
  if (name == "error") return Level::error;
  throw Error(fmt::format("unknown log level '{}' (expected debug, info, warning or error)", name));
}

void set_level(Level level) { threshold().store(level); }

Level level() { return threshold().load(std::memory_order_relaxed); }

void write(Level level, std::string_view message) {
  const auto now = std::chrono::system_clock::now();
  const std::time_t seconds = std::chrono::system_clock::to_time_t(now);
  const auto millis =
      std::chrono::duration_cast<std::chrono::milliseconds>(now.time_since_epoch()).count() % 1000;
  std::tm local{};
  localtime_r(&seconds, &local);
  char stamp[32];
  std::strftime(stamp, sizeof stamp, "%m-%d %H:%M:%S", &local);
  // One fprintf per line so that lines from several threads do not interleave.
  std::fprintf(stderr, "%s.%03d %s %.*s\n", stamp, static_cast<int>(millis), level_name(level),
               static_cast<int>(message.size()), message.data());
}

}  // namespace llmctl::log
