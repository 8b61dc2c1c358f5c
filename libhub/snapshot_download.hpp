#pragma once

#include "libhub/file_transfer.hpp"

#include <filesystem>
#include <optional>
#include <string>
#include <vector>

namespace llmctl::hub {

enum class HubKind { huggingface, modelscope };

struct DownloadOptions {
  HubKind hub = HubKind::huggingface;
  std::string repo_id;
  std::optional<std::string> revision;    // default: main (Hugging Face), master (ModelScope)
  std::vector<std::string> endpoints;     // tried in order; empty: from the environment, else the hub's own
  std::vector<std::string> files;         // exact paths ("dir/" for a folder); include/exclude then ignored
  std::vector<std::string> include, exclude;  // fnmatch patterns, "*" also matching "/", as hf download
  std::optional<std::filesystem::path> local_dir, cache_dir;
  std::optional<std::string> token;
  int max_workers = 8;
  TransferOptions transfer;
  bool force = false;
  bool dry_run = false;
  bool progress = false;  // draw the progress display on stderr (the front end decides: a TTY)
};

struct FileOutcome {
  enum class State { downloaded, present, planned, failed };
  std::string path;
  std::uint64_t size = 0;
  State state = State::planned;
  std::string error;
};

struct DownloadResult {
  std::filesystem::path path;  // the snapshot folder, the local dir, or the one file asked for
  std::string repo_id, revision, commit, endpoint;
  std::vector<FileOutcome> files;
  bool complete() const;
};

// hf download / modelscope download: pins the revision, lists the repository, filters, downloads
// the files (several at once, large ones in parallel ranges) into the chosen layout, verifies every
// one, and reports each file's outcome. With HF_HUB_OFFLINE=1 it answers from the cache only.
// Throws llmctl::Error when nothing can be listed; per-file failures are in the result.
DownloadResult download_snapshot(const DownloadOptions& options);

// True when HF_HUB_OFFLINE (or TRANSFORMERS_OFFLINE) is 1/ON/YES/TRUE.
bool offline_mode();

}  // namespace llmctl::hub
