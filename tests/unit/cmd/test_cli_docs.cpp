// Every flag of every binary must appear in its man page and in the three completion scripts.
#include "common/cli.hpp"
#include "support/test_files.hpp"

#include <doctest/doctest.h>

using llmctl::test::kSourceDir;
using llmctl::test::read_file;

namespace {

// roff writes a hyphen in a flag as "\-".
std::string roff(const std::string& flag) {
  std::string escaped;
  for (const char c : flag) escaped += c == '-' ? std::string("\\-") : std::string(1, c);
  return escaped;
}

std::vector<const CLI::App*> nested_subcommands(const llmctl::cli::Command& command) {
  return command.get_subcommands([](const CLI::App*) { return true; });
}

// The flags of the command and of its own subcommands (`llmctl bench serve`).
std::vector<std::string> flags_of(const llmctl::cli::Command& command) {
  std::vector<std::string> flags;
  std::vector<const CLI::App*> apps = nested_subcommands(command);
  apps.insert(apps.begin(), &command);
  for (const CLI::App* app : apps) {
    for (const CLI::Option* option : app->get_options()) {
      for (const auto& name : option->get_lnames()) flags.push_back("--" + name);
      for (const auto& name : option->get_snames()) flags.push_back("-" + name);
    }
  }
  for (const auto& alias : command.dash_aliases()) flags.push_back(alias.alias);
  return flags;
}

}  // namespace

TEST_CASE("man pages and completions cover every flag") {
  const auto main_page = read_file(kSourceDir / "man" / "llmctl.1");
  const auto bash = read_file(kSourceDir / "completions" / "llmctl.bash");
  const auto zsh = read_file(kSourceDir / "completions" / "_llmctl");
  const auto fish = read_file(kSourceDir / "completions" / "llmctl.fish");
  for (const auto& sub : llmctl::cli::subcommands()) {
    CAPTURE(sub.name);
    const auto page = read_file(kSourceDir / "man" / ("llmctl-" + std::string(sub.name) + ".1"));
    REQUIRE_FALSE(page.empty());
    CHECK(main_page.find(".B " + roff(std::string(sub.name))) != std::string::npos);
    CHECK(bash.find(" " + std::string(sub.name) + ")") != std::string::npos);
    const auto command = sub.make();
    for (const CLI::App* nested : nested_subcommands(*command)) {
      CAPTURE(nested->get_name());
      CHECK(page.find(".B llmctl " + roff(std::string(sub.name)) + " " + roff(nested->get_name())) != std::string::npos);
      CHECK(bash.find("compgen -W \"" + nested->get_name() + "\"") != std::string::npos);
      CHECK(fish.find("__fish_seen_subcommand_from " + std::string(sub.name) + "' -a " + nested->get_name() + " ") !=
            std::string::npos);
    }
    for (const auto& flag : flags_of(*command)) {
      CAPTURE(flag);
      CHECK(page.find(roff(flag)) != std::string::npos);
      CHECK(bash.find(flag) != std::string::npos);
      CHECK(zsh.find(flag) != std::string::npos);
      if (flag.starts_with("--")) CHECK(fish.find("-l " + flag.substr(2)) != std::string::npos);
      else CHECK(fish.find("-o " + flag.substr(1)) != std::string::npos);
    }
  }
}
