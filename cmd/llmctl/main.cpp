// llmctl: runs `llmctl-<sub>` found beside this binary or on PATH, as git does with its commands.
#include "common/cli.hpp"
#include "common/text.hpp"
#include "llmctl/version.hpp"

#include <fmt/format.h>

#include <unistd.h>

#include <cerrno>
#include <cstdio>
#include <cstdlib>
#include <cstring>
#include <filesystem>
#include <optional>
#include <string>
#include <vector>

namespace fs = std::filesystem;

namespace {

void print_help() {
  fmt::print("usage: llmctl [--version] [--help] <command> [<args>]\n\n"
             "Download, inspect, size, run, serve and benchmark open-weight LLMs on NVIDIA GPUs.\n\n"
             "Commands:\n");
  for (const auto& sub : llmctl::cli::subcommands()) fmt::print("  {:<14}{}\n", sub.name, sub.summary);
  fmt::print("\nRun 'llmctl <command> --help' for a command's flags, 'man llmctl-<command>' for details.\n"
             "Any llmctl-<name> program on PATH also runs as 'llmctl <name>'.\n");
}

bool is_executable(const fs::path& path) {
  std::error_code ec;
  return fs::is_regular_file(path, ec) && access(path.c_str(), X_OK) == 0;
}

// llmctl-<name> beside this executable first (a build tree or an unpacked package), then on PATH.
std::optional<fs::path> find_subcommand(const std::string& name) {
  const std::string file = "llmctl-" + name;
  std::error_code ec;
  const auto self = fs::read_symlink("/proc/self/exe", ec);
  if (!ec && is_executable(self.parent_path() / file)) return self.parent_path() / file;
  const char* path = std::getenv("PATH");
  std::string_view dirs = path != nullptr ? path : "";
  while (!dirs.empty()) {
    const auto colon = dirs.find(':');
    const auto dir = dirs.substr(0, colon);
    if (!dir.empty() && is_executable(fs::path(dir) / file)) return fs::path(dir) / file;
    if (colon == std::string_view::npos) break;
    dirs.remove_prefix(colon + 1);
  }
  return std::nullopt;
}

int unknown_command(const std::string& name) {
  std::vector<std::string_view> names;
  bool known = false;
  for (const auto& sub : llmctl::cli::subcommands()) {
    names.push_back(sub.name);
    known = known || sub.name == name;
  }
  if (known) {
    std::fprintf(stderr, "llmctl: '%s' is an llmctl command but llmctl-%s was not found beside llmctl or on PATH\n",
                 name.c_str(), name.c_str());
  } else {
    std::fprintf(stderr, "llmctl: '%s' is not an llmctl command. The most similar command is '%s'. See 'llmctl --help'.\n",
                 name.c_str(), llmctl::closest_match(name, names).c_str());
  }
  return 1;
}

}  // namespace

int main(int argc, char** argv) {
  if (argc < 2) {
    print_help();
    return 1;
  }
  std::string first = argv[1];
  if (first == "-h" || first == "--help") {
    print_help();
    return 0;
  }
  if (first == "--version" || first == "-V") {
    fmt::print("llmctl {}\n", llmctl::kVersion);
    return 0;
  }
  std::vector<char*> args(argv + 1, argv + argc);
  if (first == "help") {  // `llmctl help inspect` is `llmctl inspect --help`
    if (argc < 3) {
      print_help();
      return 0;
    }
    first = argv[2];
    args = {argv[2], const_cast<char*>("--help")};
  }
  if (first.starts_with("-")) {
    std::fprintf(stderr, "llmctl: unknown option '%s'. See 'llmctl --help'.\n", first.c_str());
    return 2;
  }
  const auto program = find_subcommand(first);
  if (!program) return unknown_command(first);
  const std::string program_path = program->string();
  const std::string program_name = "llmctl-" + first;
  args[0] = const_cast<char*>(program_name.c_str());
  args.push_back(nullptr);
  execv(program_path.c_str(), args.data());
  std::fprintf(stderr, "llmctl: cannot run %s: %s\n", program_path.c_str(), std::strerror(errno));
  return 1;
}
