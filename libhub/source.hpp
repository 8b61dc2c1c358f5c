#pragma once

#include "libhub/hashing.hpp"
#include "libhub/hub_client.hpp"

#include <cstdint>
#include <memory>
#include <string>
#include <vector>

namespace llmctl::hub {

// A file of a repository at one commit, with what the hub promises about its bytes.
struct RemoteFile {
  std::string path;  // relative, "/"-separated; checked not to leave the repository
  std::uint64_t size = 0;
  HashKind hash_kind = HashKind::sha256;
  std::string hash;  // lower-case hex
};

// A repository pinned to one commit: every file comes from it, even if the branch moves meanwhile.
struct Snapshot {
  std::string repo_id;   // "Qwen/Qwen2.5-7B-Instruct"
  std::string revision;  // as asked: "main", a tag, a commit
  std::string commit;    // what it pointed to
  std::vector<RemoteFile> files;
};

// A model hub: Hugging Face (or a mirror of it) or ModelScope.
class Source {
 public:
  virtual ~Source() = default;
  virtual Snapshot snapshot(const std::string& repo_id, const std::string& revision) = 0;
  // Where the bytes of `file` are asked for (the hub redirects from there).
  virtual std::string file_url(const Snapshot& snapshot, const RemoteFile& file) const = 0;
  virtual HubClient& client() = 0;
};

std::unique_ptr<Source> make_huggingface_source(const std::string& endpoint, ClientSettings settings);
std::unique_ptr<Source> make_modelscope_source(const std::string& endpoint, ClientSettings settings);

// Refuses a repository path that could escape the download folder ("../x", "/etc/x", "a//b", "a\\b").
void check_repo_path(const std::string& path);

}  // namespace llmctl::hub
