#pragma once

#include <CLI/CLI.hpp>

#include <cstdint>
#include <functional>
#include <memory>
#include <string>
#include <string_view>
#include <vector>

namespace llmctl::cli {

// A subcommand binary's flag definitions; each llmctl-<name> builds one, and so do the man-page and
// completion checks, so that every flag is declared exactly once.
class Command : public CLI::App {
 public:
  Command(std::string name, std::string summary);
  const std::string& summary() const { return summary_; }

  // vLLM spells some flags with one dash and several letters ("-tp"), which CLI11 cannot declare;
  // such an alias is rewritten to its long flag before parsing.
  struct DashAlias {
    std::string alias;      // "-tp"
    std::string long_name;  // "--tensor-parallel-size"
  };
  void add_dash_alias(std::string alias, std::string long_name);
  const std::vector<DashAlias>& dash_aliases() const { return dash_aliases_; }

 private:
  std::string summary_;
  std::vector<DashAlias> dash_aliases_;
  std::string log_level_;
};

struct Subcommand {
  std::string_view name;     // "inspect": the binary is llmctl-inspect
  std::string summary;       // one line for `llmctl --help`
  std::function<std::unique_ptr<Command>()> make;
};

// Every subcommand this package installs, in the order `llmctl --help` lists them.
const std::vector<Subcommand>& subcommands();

// Parses argv and runs `body`, turning failures into one line on stderr and an exit code: 2 for a
// command-line error (as argparse and vLLM do), 1 for any other error.
int run(Command& command, int argc, char** argv, const std::function<void()>& body);

// Adds a token-count option that also takes vLLM's suffixes: 1k = 1000, 1K = 1024, 25.6k = 25600.
CLI::Option* add_token_count_option(CLI::App& app, const std::string& name, std::int64_t& value,
                                    const std::string& description);

std::int64_t parse_token_count(std::string_view text);

}  // namespace llmctl::cli
