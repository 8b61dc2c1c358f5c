// llmctl-download: hf download / modelscope download, verified, resumable and parallel. The last
// line of stdout is the local path, as hf download prints it.
#include "common/error.hpp"
#include "common/text.hpp"
#include "download/download_cli.hpp"

#include <fmt/format.h>
#include <nlohmann/json.hpp>

#include <unistd.h>

#include <cstdio>

namespace {

using llmctl::hub::FileOutcome;

const char* state_name(FileOutcome::State state) {
  switch (state) {
    case FileOutcome::State::downloaded:
      return "downloaded";
    case FileOutcome::State::present:
      return "present";
    case FileOutcome::State::planned:
      return "to download";
    case FileOutcome::State::failed:
      return "failed";
  }
  return "";
}

}  // namespace

int main(int argc, char** argv) {
  llmctl::cli::DownloadCommand command;
  return llmctl::cli::run(command, argc, argv, [&] {
    auto& options = command.options;
    options.download.hub = options.source == "modelscope" ? llmctl::hub::HubKind::modelscope : llmctl::hub::HubKind::huggingface;
    options.download.progress = !options.quiet && !options.json && !options.download.dry_run && ::isatty(STDERR_FILENO) != 0;
    const auto result = llmctl::hub::download_snapshot(options.download);

    if (options.json) {
      nlohmann::json files = nlohmann::json::array();
      for (const auto& file : result.files) {
        nlohmann::json entry = {{"path", file.path}, {"size", file.size}, {"state", state_name(file.state)}};
        if (!file.error.empty()) entry["error"] = file.error;
        files.push_back(entry);
      }
      std::puts(nlohmann::json{{"repo_id", result.repo_id}, {"revision", result.revision}, {"commit", result.commit},
                               {"endpoint", result.endpoint}, {"path", result.path.string()}, {"complete", result.complete()},
                               {"files", files}}
                    .dump()
                    .c_str());
    } else if (options.download.dry_run) {
      std::uint64_t planned_bytes = 0;
      std::size_t planned = 0;
      for (const auto& file : result.files) {
        if (file.state == FileOutcome::State::planned) {
          ++planned;
          planned_bytes += file.size;
        }
      }
      fmt::print("[dry-run] Will download {} files (out of {}) totalling {}.\n", planned, result.files.size(),
                 llmctl::format_bytes(static_cast<double>(planned_bytes)));
      for (const auto& file : result.files) {
        fmt::print("  {:<56} {:>12}  {}\n", file.path, llmctl::format_bytes(static_cast<double>(file.size)), state_name(file.state));
      }
    }
    if (!result.complete()) {
      std::size_t failed = 0;
      for (const auto& file : result.files) {
        if (file.state == FileOutcome::State::failed) {
          ++failed;
          fmt::print(stderr, "failed: {}: {}\n", file.path, file.error);
        }
      }
      throw llmctl::Error(fmt::format("{} of {} files of {} failed; run the same command again to resume", failed,
                                      result.files.size(), result.repo_id));
    }
    if (!options.json && !options.download.dry_run) std::puts(result.path.c_str());
  });
}
