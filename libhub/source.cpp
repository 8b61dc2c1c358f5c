#include "libhub/source.hpp"

#include "common/error.hpp"

#include <fmt/format.h>

#include <algorithm>
#include <cctype>
#include <set>

namespace llmctl::hub {
namespace {

bool is_commit(const std::string& revision) {
  return revision.size() == 40 && std::all_of(revision.begin(), revision.end(), [](char c) { return std::isxdigit(static_cast<unsigned char>(c)); });
}

std::string hex_field(const nlohmann::json& object, const char* key) {
  const auto found = object.find(key);
  if (found == object.end() || !found->is_string()) return {};
  std::string value = found->get<std::string>();
  std::transform(value.begin(), value.end(), value.begin(), [](unsigned char c) { return static_cast<char>(std::tolower(c)); });
  return value;
}

// A hash becomes a file name in the cache: only 40 (sha1) or 64 (sha256) hex digits are accepted.
void check_hash(const RemoteFile& file) {
  const std::size_t length = file.hash_kind == HashKind::sha256 ? 64 : 40;
  if (file.hash.size() != length || !std::all_of(file.hash.begin(), file.hash.end(), [](char c) { return std::isxdigit(static_cast<unsigned char>(c)); })) {
    throw Error(fmt::format("the listing gives \"{}\" as the hash of {}: not a hash", file.hash, file.path));
  }
}

// Hugging Face: pin the revision with the repo-info API, list the tree recursively (following
// pagination), and ask /resolve/<commit>/<path> for the bytes.
class HuggingFace : public Source {
 public:
  HuggingFace(const std::string& endpoint, ClientSettings settings) : client_(endpoint, std::move(settings)) {}

  Snapshot snapshot(const std::string& repo_id, const std::string& revision) override {
    Snapshot snapshot{repo_id, revision, revision, {}};
    const std::string api = client_.endpoint() + "/api/models/" + repo_id;
    if (!is_commit(revision)) {
      const auto info = client_.get_json(api + "/revision/" + escape_component(revision));
      snapshot.commit = hex_field(info, "sha");
      if (!is_commit(snapshot.commit)) throw Error(fmt::format("{}: the hub gave no commit for revision {}", repo_id, revision));
    }
    std::optional<std::string> next = api + "/tree/" + snapshot.commit + "?recursive=true&expand=false";
    std::set<std::string> pages;
    while (next) {
      const std::string url = *next;
      if (!pages.insert(url).second) throw Error(url + ": the listing's pages go round in a circle");
      const auto page = client_.get_json(url, &next);
      if (!page.is_array()) throw Error(url + ": expected a JSON array of files");
      for (const auto& entry : page) {
        if (entry.value("type", "") != "file") continue;
        RemoteFile file;
        file.path = entry.at("path").get<std::string>();
        check_repo_path(file.path);
        file.size = entry.at("size").get<std::uint64_t>();
        if (entry.contains("lfs") && entry.at("lfs").is_object()) {
          file.hash_kind = HashKind::sha256;
          file.hash = hex_field(entry.at("lfs"), "oid");
        } else {
          file.hash_kind = HashKind::git_blob_sha1;
          file.hash = hex_field(entry, "oid");
        }
        check_hash(file);
        snapshot.files.push_back(std::move(file));
      }
    }
    return snapshot;
  }

  std::string file_url(const Snapshot& snapshot, const RemoteFile& file) const override {
    return client_.endpoint() + "/" + snapshot.repo_id + "/resolve/" + snapshot.commit + "/" + escape_path(file.path);
  }

  HubClient& client() override { return client_; }

 private:
  HubClient client_;
};

// ModelScope: the repo/files API lists every file with its sha256; bytes come from repo?FilePath=.
class ModelScope : public Source {
 public:
  ModelScope(const std::string& endpoint, ClientSettings settings) : client_(endpoint, std::move(settings)) {}

  Snapshot snapshot(const std::string& repo_id, const std::string& revision) override {
    Snapshot snapshot{repo_id, revision, revision, {}};
    const std::string url = client_.endpoint() + "/api/v1/models/" + repo_id + "/repo/files?Revision=" +
                            escape_component(revision) + "&Recursive=True";
    const auto reply = client_.get_json(url);
    // Logical errors come back as HTTP 200 with Code != 200.
    if (reply.value("Code", 0) != 200 || !reply.value("Success", false)) {
      throw Error(fmt::format("{}: ModelScope says: {}", repo_id, reply.value("Message", std::string("no files"))));
    }
    for (const auto& entry : reply.at("Data").at("Files")) {
      if (entry.value("Type", "") != "blob") continue;
      RemoteFile file;
      file.path = entry.at("Path").get<std::string>();
      if (file.path == ".gitattributes" || file.path == ".gitignore") continue;  // as the ModelScope SDK
      check_repo_path(file.path);
      file.size = entry.at("Size").get<std::uint64_t>();
      file.hash_kind = HashKind::sha256;
      file.hash = hex_field(entry, "Sha256");
      check_hash(file);
      if (const auto commit = hex_field(entry, "Revision"); !commit.empty()) snapshot.commit = commit;
      snapshot.files.push_back(std::move(file));
    }
    return snapshot;
  }

  std::string file_url(const Snapshot& snapshot, const RemoteFile& file) const override {
    return client_.endpoint() + "/api/v1/models/" + snapshot.repo_id + "/repo?Revision=" + escape_component(snapshot.revision) +
           "&FilePath=" + escape_component(file.path);
  }

  HubClient& client() override { return client_; }

 private:
  HubClient client_;
};

}  // namespace

void check_repo_path(const std::string& path) {
  bool bad = path.empty() || path.front() == '/' || path.find('\\') != std::string::npos || path.find('\0') != std::string::npos;
  for (std::size_t start = 0; !bad && start <= path.size();) {
    const std::size_t slash = std::min(path.find('/', start), path.size());
    const std::string_view part(path.data() + start, slash - start);
    bad = part.empty() || part == "." || part == "..";
    start = slash + 1;
  }
  if (bad) throw Error("refusing the file name \"" + path + "\" from the hub's listing: it would leave the download folder");
}

std::unique_ptr<Source> make_huggingface_source(const std::string& endpoint, ClientSettings settings) {
  return std::make_unique<HuggingFace>(endpoint, std::move(settings));
}

std::unique_ptr<Source> make_modelscope_source(const std::string& endpoint, ClientSettings settings) {
  return std::make_unique<ModelScope>(endpoint, std::move(settings));
}

}  // namespace llmctl::hub
