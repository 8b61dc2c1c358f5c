#include "common/cli.hpp"

#include "common/error.hpp"
#include "common/log.hpp"
#include "llmctl/version.hpp"

#include <fmt/format.h>

#include <charconv>
#include <cmath>
#include <cstdio>

namespace llmctl::cli {

Command::Command(std::string name, std::string summary)
    : CLI::App(summary, "llmctl-" + name), summary_(std::move(summary)) {
  set_version_flag("--version", fmt::format("llmctl-{} {}", name, kVersion));
  add_option("--log-level", log_level_, "Log threshold: debug, info, warning or error (default: $LLMCTL_LOG_LEVEL or info)")
      ->check(CLI::IsMember({"debug", "info", "warning", "error"}))
      ->each([](const std::string& level) { log::set_level(log::parse_level(level)); });
  footer(fmt::format("See man llmctl-{} for details.", name));
}

void Command::add_dash_alias(std::string alias, std::string long_name) {
  dash_aliases_.push_back({std::move(alias), std::move(long_name)});
}

int run(Command& command, int argc, char** argv, const std::function<void()>& body) {
  std::vector<std::string> args(argv, argv + argc);
  for (auto& arg : args) {
    for (const auto& [alias, long_name] : command.dash_aliases()) {
      if (arg == alias) arg = long_name;
      else if (arg.starts_with(alias + "=")) arg = long_name + arg.substr(alias.size());
    }
  }
  std::vector<const char*> rewritten;
  for (const auto& arg : args) rewritten.push_back(arg.c_str());
  try {
    command.parse(argc, const_cast<char**>(rewritten.data()));
  } catch (const CLI::CallForHelp&) {
    std::fputs(command.help().c_str(), stdout);
    return 0;
  } catch (const CLI::CallForVersion& version) {
    std::puts(version.what());
    return 0;
  } catch (const CLI::ParseError& e) {
    std::fprintf(stderr, "%s: error: %s\nRun '%s --help' for the flags.\n", command.get_name().c_str(), e.what(),
                 command.get_name().c_str());
    return 2;
  } catch (const Error& e) {  // raised by an option's own check
    std::fprintf(stderr, "%s: error: %s\n", command.get_name().c_str(), e.what());
    return 2;
  }
  try {
    body();
    return 0;
  } catch (const Error& e) {
    std::fprintf(stderr, "%s: error: %s\n", command.get_name().c_str(), e.what());
  } catch (const std::exception& e) {
    std::fprintf(stderr, "%s: internal error: %s\n", command.get_name().c_str(), e.what());
  }
  return 1;
}

std::int64_t parse_token_count(std::string_view original) {
  std::string_view text = original;
  double multiplier = 1;
  if (!text.empty()) {
    switch (text.back()) {
      case 'k': multiplier = 1e3; break;
      case 'K': multiplier = 1024; break;
      case 'm': multiplier = 1e6; break;
      case 'M': multiplier = 1024.0 * 1024; break;
      case 'g': multiplier = 1e9; break;
      case 'G': multiplier = 1024.0 * 1024 * 1024; break;
      default: break;
    }
    if (multiplier != 1) text.remove_suffix(1);
  }
  double number = 0;
  const auto [end, ec] = std::from_chars(text.data(), text.data() + text.size(), number);
  const double value = number * multiplier;
  if (text.empty() || ec != std::errc{} || end != text.data() + text.size() || !(value >= 1) || value > 1e15 ||
      value != std::floor(value))
    throw Error(fmt::format("'{}' is not a token count (examples: 4096, 32k, 32K, 25.6k)", original));
  return static_cast<std::int64_t>(value);
}

CLI::Option* add_token_count_option(CLI::App& app, const std::string& name, std::int64_t& value,
                                    const std::string& description) {
  return app
      .add_option_function<std::string>(
          name, [&value, name](const std::string& text) {
            try {
              value = parse_token_count(text);
            } catch (const Error& e) {
              throw CLI::ValidationError(name, e.what());
            }
          },
          description)
      ->type_name("TOKENS");
}

}  // namespace llmctl::cli
