#include "repos.hpp"

#include "hashes.hpp"

#include <nlohmann/json.hpp>

#include <algorithm>
#include <fstream>
#include <set>
#include <sstream>
#include <stdexcept>

namespace llmctl::hub_double {

namespace fs = std::filesystem;

namespace {

std::string git_blob_sha1(std::string_view content) {
  std::string blob = "blob " + std::to_string(content.size());
  blob += '\0';
  blob += content;
  return sha1_hex(blob);
}

std::string read_file(const fs::path& path) {
  std::ifstream in(path, std::ios::binary);
  if (!in) throw std::runtime_error(path.string() + ": cannot be read");
  std::ostringstream content;
  content << in.rdbuf();
  return content.str();
}

RepoFile make_file(std::string path, std::string content, bool lfs) {
  RepoFile file;
  file.path = std::move(path);
  file.sha1 = git_blob_sha1(content);
  file.sha256 = sha256_hex(content);
  file.lfs = lfs;
  if (lfs) {
    const std::string pointer = "version https://git-lfs.github.com/spec/v1\noid sha256:" + file.sha256 + "\nsize " +
                                std::to_string(content.size()) + "\n";
    file.pointer_sha1 = git_blob_sha1(pointer);
    file.pointer_size = pointer.size();
  }
  file.content = std::make_shared<const std::string>(std::move(content));
  return file;
}

std::vector<RepoFile> read_files(const fs::path& dir, std::size_t lfs_threshold) {
  std::vector<RepoFile> files;
  for (const auto& entry : fs::recursive_directory_iterator(dir)) {
    if (!entry.is_regular_file()) continue;
    auto path = entry.path().lexically_relative(dir).generic_string();
    if (path == ".hub.json") continue;
    auto content = read_file(entry.path());
    const bool lfs = content.size() >= lfs_threshold;
    files.push_back(make_file(std::move(path), std::move(content), lfs));
  }
  std::ranges::sort(files, {}, &RepoFile::path);
  return files;
}

// The commit a repo has when .hub.json names none: it changes whenever a file does.
std::string default_commit(const std::vector<RepoFile>& files) {
  std::string listing;
  for (const auto& file : files) listing += file.path + " " + file.sha256 + "\n";
  return sha1_hex(listing);
}

// ModelScope lists a .gitattributes in every repo (naming its LFS files); fixtures need not have one.
std::vector<RepoFile> with_gitattributes(const std::vector<RepoFile>& files) {
  auto out = files;
  if (find_file(files, ".gitattributes")) return out;
  std::string text;
  for (const auto& file : files) {
    if (file.lfs) text += file.path + " filter=lfs diff=lfs merge=lfs -text\n";
  }
  out.push_back(make_file(".gitattributes", std::move(text), false));
  std::ranges::sort(out, {}, &RepoFile::path);
  return out;
}

Repo load_repo(const fs::path& dir, std::string id) {
  const auto settings_path = dir / ".hub.json";
  try {
    auto settings = nlohmann::json::object();
    if (fs::exists(settings_path)) settings = nlohmann::json::parse(read_file(settings_path));
    static const std::set<std::string> known{"commit", "lfs_threshold", "private", "gated", "renamed_to", "branches"};
    for (const auto& [key, value] : settings.items()) {
      if (!known.contains(key)) throw std::runtime_error("unknown key \"" + key + "\"");
    }
    Repo repo;
    repo.id = std::move(id);
    repo.files = read_files(dir, settings.value("lfs_threshold", std::size_t{1024}));
    repo.ms_files = with_gitattributes(repo.files);
    repo.commit = settings.value("commit", default_commit(repo.files));
    repo.branches = settings.value("branches", std::map<std::string, std::string>{});
    repo.branches.emplace("main", repo.commit);
    repo.is_private = settings.value("private", false);
    repo.gated = settings.value("gated", false);
    repo.renamed_to = settings.value("renamed_to", "");
    return repo;
  } catch (const std::exception& e) {
    throw std::runtime_error(settings_path.string() + ": " + e.what());
  }
}

}  // namespace

std::optional<std::string> Repo::resolve(std::string_view revision) const {
  if (const auto it = branches.find(std::string(revision)); it != branches.end()) return it->second;
  if (revision == commit) return commit;
  for (const auto& [name, target] : branches) {
    if (revision == target) return target;
  }
  return std::nullopt;
}

const RepoFile* find_file(const std::vector<RepoFile>& files, std::string_view path) {
  const auto it = std::ranges::lower_bound(files, path, {}, &RepoFile::path);
  return it != files.end() && it->path == path ? &*it : nullptr;
}

std::optional<std::vector<Entry>> list_directory(const std::vector<RepoFile>& files, std::string_view dir,
                                                 bool recursive) {
  const std::string prefix = dir.empty() ? "" : std::string(dir) + "/";
  std::map<std::string, const RepoFile*> entries;  // sorted, and each directory once
  bool exists = dir.empty();
  for (const auto& file : files) {
    if (!file.path.starts_with(prefix)) continue;
    exists = true;
    // The folders between `dir` and the file are entries too (only the first level when not recursive).
    bool nested = false;
    for (auto slash = file.path.find('/', prefix.size()); slash != std::string::npos;
         slash = file.path.find('/', slash + 1)) {
      nested = true;
      entries.emplace(file.path.substr(0, slash), nullptr);
      if (!recursive) break;
    }
    if (recursive || !nested) entries.emplace(file.path, &file);
  }
  if (!exists) return std::nullopt;
  std::vector<Entry> out;
  for (const auto& [path, file] : entries) out.push_back({path, file});
  return out;
}

std::string directory_oid(const std::vector<RepoFile>& files, std::string_view dir) {
  const std::string prefix = std::string(dir) + "/";
  std::string listing;
  for (const auto& file : files) {
    if (file.path.starts_with(prefix)) listing += file.path + " " + file.sha1 + "\n";
  }
  return sha1_hex(listing);
}

Repos::Repos(const fs::path& root) {
  if (!fs::is_directory(root)) throw std::runtime_error(root.string() + ": not a directory");
  for (const auto& org : fs::directory_iterator(root)) {
    if (!org.is_directory()) continue;
    for (const auto& name : fs::directory_iterator(org.path())) {
      if (!name.is_directory()) continue;
      auto id = org.path().filename().string() + "/" + name.path().filename().string();
      repos_.emplace(id, load_repo(name.path(), id));
    }
  }
  for (const auto& [id, repo] : repos_) {
    for (const auto& file : repo.ms_files) by_sha256_.emplace(file.sha256, &file);
  }
}

const Repo* Repos::find(std::string_view id) const {
  const auto it = repos_.find(id);
  return it == repos_.end() ? nullptr : &it->second;
}

const RepoFile* Repos::find_by_sha256(std::string_view sha256) const {
  const auto it = by_sha256_.find(sha256);
  return it == by_sha256_.end() ? nullptr : it->second;
}

}  // namespace llmctl::hub_double
