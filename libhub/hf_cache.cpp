#include "libhub/hf_cache.hpp"

#include "common/error.hpp"

#include <unistd.h>

#include <cstdlib>
#include <ctime>
#include <fstream>
#include <sstream>

namespace llmctl::hub {
namespace {

namespace fs = std::filesystem;

std::string repo_folder_name(const std::string& repo_id) {
  std::string name = "models--";
  for (const char c : repo_id) name += c == '/' ? std::string("--") : std::string(1, c);
  return name;
}

fs::path environment_path(const char* name) {
  const char* value = std::getenv(name);
  return value != nullptr && *value != '\0' ? fs::path(value) : fs::path();
}

fs::path home() {
  const fs::path path = environment_path("HOME");
  if (path.empty()) throw Error("HOME is not set; give --cache-dir or --local-dir");
  return path;
}

// Written beside the final name and renamed over it: a reader sees the old file or the new one.
void write_atomically(const fs::path& path, const std::string& content) {
  fs::create_directories(path.parent_path());
  const fs::path temporary = path.string() + ".tmp" + std::to_string(::getpid());
  {
    std::ofstream out(temporary, std::ios::binary | std::ios::trunc);
    out << content;
    if (!out) throw Error(temporary.string() + ": cannot write");
  }
  fs::rename(temporary, path);
}

class HfCache : public Layout {
 public:
  explicit HfCache(fs::path root) : root_(std::move(root)) {
    const fs::path tag = root_ / "CACHEDIR.TAG";
    std::error_code error;
    if (!fs::exists(tag, error)) {
      write_atomically(tag, "Signature: 8a477f597d28d172789f06886806bc55\n"
                            "# This file is a cache directory tag created by huggingface_hub (here: llmctl).\n"
                            "# For information about cache directory tags, see: https://bford.info/cachedir/\n");
    }
  }

  TransferTarget target(const Snapshot& snapshot, const RemoteFile& file) const override {
    const fs::path blob = root_ / repo_folder_name(snapshot.repo_id) / "blobs" / file.hash;
    // Not huggingface_hub's "<blob>.incomplete": older versions resume such a file without checking
    // it, and would promote a preallocated partial of ours to a blob.
    return {blob, blob.string() + ".llmctl-partial", root_ / ".locks" / repo_folder_name(snapshot.repo_id) / (file.hash + ".lock"),
            true};
  }
  bool have(const Snapshot& snapshot, const RemoteFile& file) const override {
    std::error_code error;
    // A blob is named by its hash and renamed into place only once verified.
    const fs::path blob = target(snapshot, file).destination;
    return fs::exists(blob, error) && fs::file_size(blob, error) == file.size;
  }
  void publish(const Snapshot& snapshot, const RemoteFile& file) const override {
    const fs::path link = root_ / repo_folder_name(snapshot.repo_id) / "snapshots" / snapshot.commit / file.path;
    fs::create_directories(link.parent_path());
    // ../../blobs/<hash>, with one more ../ per folder level of the file inside the snapshot.
    fs::path link_target = "../../blobs";
    for (auto level = fs::path(file.path).parent_path(); !level.empty(); level = level.parent_path()) link_target = ".." / link_target;
    link_target /= file.hash;
    std::error_code error;
    if (fs::is_symlink(link, error) && fs::read_symlink(link, error) == link_target) return;
    // Made under a temporary name and renamed over the link: another process publishing the same file
    // at the same moment finds one link or the other, never none.
    const fs::path temporary = link.string() + ".tmp" + std::to_string(::getpid());
    fs::remove(temporary, error);
    fs::create_symlink(link_target, temporary, error);
    if (error) {  // no symbolic links on this file system: a copy, renamed into place the same way
      fs::copy_file(target(snapshot, file).destination, temporary, fs::copy_options::overwrite_existing);
    }
    fs::rename(temporary, link);
  }
  fs::path finish(const Snapshot& snapshot) const override {
    const fs::path repo = root_ / repo_folder_name(snapshot.repo_id);
    if (snapshot.revision != snapshot.commit) write_atomically(repo / "refs" / snapshot.revision, snapshot.commit);
    const fs::path folder = repo / "snapshots" / snapshot.commit;
    fs::create_directories(folder);
    return folder;
  }

 private:
  fs::path root_;
};

class Folder : public Layout {
 public:
  explicit Folder(fs::path folder) : folder_(std::move(folder)) {}

  TransferTarget target(const Snapshot&, const RemoteFile& file) const override {
    // Partial files stay under .cache/, out of the user's folder.
    return {folder_ / file.path, metadata_dir() / (file.path + ".llmctl-partial"), metadata_dir() / (file.path + ".lock"), false};
  }
  bool have(const Snapshot&, const RemoteFile& file) const override {
    // huggingface_hub's rule: the metadata names this content and the file was not touched since.
    std::ifstream in(metadata_dir() / (file.path + ".metadata"));
    std::string commit, hash;
    double timestamp = 0;
    if (!(in >> commit >> hash >> timestamp) || hash != file.hash) return false;
    std::error_code error;
    const fs::path path = folder_ / file.path;
    if (!fs::exists(path, error) || fs::file_size(path, error) != file.size) return false;
    const auto modified = std::chrono::duration_cast<std::chrono::seconds>(
        std::chrono::file_clock::to_sys(fs::last_write_time(path, error)).time_since_epoch());
    return static_cast<double>(modified.count()) - 1 <= timestamp;
  }
  void publish(const Snapshot& snapshot, const RemoteFile& file) const override {
    std::ostringstream metadata;
    metadata.precision(17);
    metadata << snapshot.commit << "\n" << file.hash << "\n" << static_cast<double>(std::time(nullptr)) << "\n";
    write_atomically(metadata_dir() / (file.path + ".metadata"), metadata.str());
  }
  fs::path finish(const Snapshot&) const override { return folder_; }

 private:
  fs::path metadata_dir() const { return folder_ / ".cache" / "huggingface" / "download"; }
  fs::path folder_;
};

}  // namespace

std::unique_ptr<Layout> make_hf_cache_layout(const fs::path& cache_root) { return std::make_unique<HfCache>(cache_root); }
std::unique_ptr<Layout> make_folder_layout(const fs::path& folder) { return std::make_unique<Folder>(folder); }

fs::path default_hf_cache() {
  for (const char* name : {"HF_HUB_CACHE", "HUGGINGFACE_HUB_CACHE"}) {
    if (auto path = environment_path(name); !path.empty()) return path;
  }
  if (auto hf_home = environment_path("HF_HOME"); !hf_home.empty()) return hf_home / "hub";
  if (auto xdg = environment_path("XDG_CACHE_HOME"); !xdg.empty()) return xdg / "huggingface" / "hub";
  return home() / ".cache" / "huggingface" / "hub";
}

fs::path modelscope_folder(const std::string& repo_id, const std::optional<fs::path>& cache_dir) {
  const auto slash = repo_id.find('/');
  std::string name = repo_id.substr(slash + 1);
  for (std::size_t at; (at = name.find('.')) != std::string::npos;) name.replace(at, 1, "___");
  const std::string owner = repo_id.substr(0, slash);
  if (cache_dir) return *cache_dir / owner / name;
  const fs::path root = environment_path("MODELSCOPE_CACHE");
  return (root.empty() ? home() / ".cache" / "modelscope" / "hub" : root) / "models" / owner / name;
}

std::optional<fs::path> cached_snapshot(const fs::path& cache_root, const std::string& repo_id, const std::string& revision) {
  const fs::path repo = cache_root / repo_folder_name(repo_id);
  std::string commit = revision;
  std::ifstream ref(repo / "refs" / revision);
  if (ref) std::getline(ref, commit);
  std::error_code error;
  const fs::path folder = repo / "snapshots" / commit;
  if (commit.empty() || !fs::is_directory(folder, error)) return std::nullopt;
  return folder;
}

}  // namespace llmctl::hub
