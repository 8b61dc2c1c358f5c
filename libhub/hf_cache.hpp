#pragma once

#include "libhub/file_transfer.hpp"
#include "libhub/source.hpp"

#include <filesystem>
#include <optional>
#include <string>

namespace llmctl::hub {

// Where one downloaded repository goes, in one of three layouts. Each says where a file's verified
// bytes live, where its lock is, and how the repository is presented once every file is there.
class Layout {
 public:
  virtual ~Layout() = default;
  virtual TransferTarget target(const Snapshot& snapshot, const RemoteFile& file) const = 0;
  // Whether a file already there can be used as it is.
  virtual bool have(const Snapshot& snapshot, const RemoteFile& file) const = 0;
  // After a file's bytes are in place: the snapshot link, the metadata...
  virtual void publish(const Snapshot& snapshot, const RemoteFile& file) const = 0;
  // After all files: refs; the folder (or file) to print.
  virtual std::filesystem::path finish(const Snapshot& snapshot) const = 0;
};

// The Hugging Face cache, as huggingface_hub writes it (so that both tools share one cache):
// models--org--name/{blobs/<sha256 or git sha1>, snapshots/<commit>/<path> -> ../../blobs/<hash>
// (relative symlinks; a copy where links are not possible), refs/<revision>}, .locks/, CACHEDIR.TAG.
std::unique_ptr<Layout> make_hf_cache_layout(const std::filesystem::path& cache_root);
// Plain files in a folder (--local-dir; and ModelScope's cache layout, which is one folder per repo),
// with huggingface_hub's metadata in <dir>/.cache/huggingface/download/<path>.metadata.
std::unique_ptr<Layout> make_folder_layout(const std::filesystem::path& folder);

// $HF_HUB_CACHE, $HUGGINGFACE_HUB_CACHE, $HF_HOME/hub, $XDG_CACHE_HOME/huggingface/hub or
// ~/.cache/huggingface/hub.
std::filesystem::path default_hf_cache();
// ModelScope's folder for a repository: $MODELSCOPE_CACHE (default ~/.cache/modelscope/hub)/models/
// <owner>/<name with "." as "___">, or <cache_dir>/<owner>/<name'> when a cache dir is given.
std::filesystem::path modelscope_folder(const std::string& repo_id, const std::optional<std::filesystem::path>& cache_dir);

// The snapshot folder of `repo_id` at `revision` in an HF cache, without any network: refs/<revision>
// gives the commit (or the revision is one). nullopt when it is not there.
std::optional<std::filesystem::path> cached_snapshot(const std::filesystem::path& cache_root, const std::string& repo_id,
                                                     const std::string& revision);

}  // namespace llmctl::hub
