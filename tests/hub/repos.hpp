#pragma once

// The fixture repositories: DIR/<org>/<name>/ holds a repo's files, with optional settings in
// DIR/<org>/<name>/.hub.json. Everything is read and hashed once, at startup.

#include <cstddef>
#include <filesystem>
#include <map>
#include <memory>
#include <optional>
#include <string>
#include <string_view>
#include <vector>

namespace llmctl::hub_double {

struct RepoFile {
  std::string path;  // '/'-separated, relative to the repo
  std::shared_ptr<const std::string> content;
  std::string sha1;    // git blob sha1 of the content
  std::string sha256;  // of the content
  bool lfs = false;    // stored in LFS: served through the CDN
  std::string pointer_sha1;  // git blob sha1 of the LFS pointer (LFS files)
  std::size_t pointer_size = 0;

  std::size_t size() const { return content->size(); }
};

struct Repo {
  std::string id;  // org/name
  std::string commit;
  std::map<std::string, std::string> branches;  // name -> commit; always has "main"
  bool is_private = false;
  bool gated = false;
  std::string renamed_to;
  std::vector<RepoFile> files;     // sorted by path
  std::vector<RepoFile> ms_files;  // files, plus a .gitattributes as ModelScope lists one

  // The commit of a branch name or of a commit itself.
  std::optional<std::string> resolve(std::string_view revision) const;
};

const RepoFile* find_file(const std::vector<RepoFile>& files, std::string_view path);

// One listing entry: a file, or a directory (file == nullptr).
struct Entry {
  std::string path;
  const RepoFile* file = nullptr;
};

// The entries below directory `dir` ("" is the root), sorted by path: its children, or all its
// descendants. nullopt when `dir` is not a directory.
std::optional<std::vector<Entry>> list_directory(const std::vector<RepoFile>& files, std::string_view dir,
                                                 bool recursive);

// A content-derived id for a directory (not git's tree hash: no client checks it).
std::string directory_oid(const std::vector<RepoFile>& files, std::string_view dir);

class Repos {
 public:
  Repos() = default;
  explicit Repos(const std::filesystem::path& root);
  // The sha256 index points into repos_: a move keeps the map's nodes, a copy would not.
  Repos(const Repos&) = delete;
  Repos& operator=(const Repos&) = delete;
  Repos(Repos&&) = default;
  Repos& operator=(Repos&&) = default;

  const Repo* find(std::string_view id) const;
  const RepoFile* find_by_sha256(std::string_view sha256) const;

 private:
  std::map<std::string, Repo, std::less<>> repos_;
  std::map<std::string, const RepoFile*, std::less<>> by_sha256_;
};

}  // namespace llmctl::hub_double
