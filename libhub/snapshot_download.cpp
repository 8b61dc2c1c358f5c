#include "libhub/snapshot_download.hpp"

#include "common/error.hpp"
#include "common/log.hpp"
#include "common/text.hpp"
#include "libhub/hf_cache.hpp"
#include "libhub/workers.hpp"

#include <fmt/format.h>

#include <fnmatch.h>
#include <unistd.h>

#include <algorithm>
#include <cctype>
#include <chrono>
#include <condition_variable>
#include <cstdlib>
#include <fstream>
#include <mutex>
#include <thread>

namespace llmctl::hub {
namespace {

namespace fs = std::filesystem;

std::string environment(const char* name) {
  const char* value = std::getenv(name);
  return value != nullptr ? value : "";
}

bool truthy(const std::string& value) {
  std::string lower = to_lower(value);
  return lower == "1" || lower == "on" || lower == "yes" || lower == "true";
}

// --token, then the environment, then the token file huggingface_hub's login writes.
std::optional<std::string> find_token(const DownloadOptions& options) {
  if (options.token) return options.token;
  if (options.hub == HubKind::modelscope) {
    if (auto token = environment("MODELSCOPE_API_TOKEN"); !token.empty()) return token;
    return std::nullopt;
  }
  for (const char* name : {"HF_TOKEN", "HUGGING_FACE_HUB_TOKEN"}) {
    if (auto token = environment(name); !token.empty()) return token;
  }
  fs::path file = environment("HF_TOKEN_PATH");
  if (file.empty()) {
    const std::string hf_home = environment("HF_HOME");
    if (!hf_home.empty()) {
      file = fs::path(hf_home) / "token";
    } else if (!environment("HOME").empty()) {
      file = fs::path(environment("HOME")) / ".cache" / "huggingface" / "token";
    }
  }
  std::ifstream in(file);
  std::string token;
  if (in && std::getline(in, token) && !token.empty()) return token;
  return std::nullopt;
}

std::vector<std::string> endpoints(const DownloadOptions& options) {
  if (!options.endpoints.empty()) return options.endpoints;
  std::vector<std::string> list;
  const auto add_list = [&](const std::string& value) {  // a comma-separated fallback list
    for (std::size_t start = 0; start <= value.size();) {
      const auto comma = std::min(value.find(',', start), value.size());
      if (comma > start) list.push_back(value.substr(start, comma - start));
      start = comma + 1;
    }
  };
  if (options.hub == HubKind::huggingface) {
    add_list(environment("HF_ENDPOINT"));
    if (list.empty()) list.push_back("https://huggingface.co");
  } else {
    add_list(environment("MODELSCOPE_ENDPOINT"));
    if (list.empty() && !environment("MODELSCOPE_DOMAIN").empty()) {
      const std::string domain = environment("MODELSCOPE_DOMAIN");
      list.push_back(domain.find("://") == std::string::npos ? "https://" + domain : domain);
    }
    if (list.empty()) list.push_back("https://www.modelscope.cn");
  }
  return list;
}

ClientSettings client_settings(const DownloadOptions& options) {
  ClientSettings settings;
  if (auto token = find_token(options)) {
    // A token file may end in CRLF; a control character inside would split the header.
    while (!token->empty() && std::isspace(static_cast<unsigned char>(token->back()))) token->pop_back();
    if (std::any_of(token->begin(), token->end(), [](unsigned char c) { return c < 0x20 || c == 0x7F; })) {
      throw Error("the access token contains control characters");
    }
    settings.auth_headers.push_back("Authorization: Bearer " + *token);
    if (options.hub == HubKind::modelscope) settings.auth_headers.push_back("Cookie: m_session_id=" + *token);
  }
  if (const auto timeout = environment("HF_HUB_DOWNLOAD_TIMEOUT"); !timeout.empty()) {
    settings.stall_timeout = std::chrono::seconds(std::max(1, std::atoi(timeout.c_str())));
  }
  return settings;
}

bool matches(const std::string& pattern, const std::string& path) {
  const std::string full = pattern.ends_with('/') ? pattern + "*" : pattern;  // "dir/" means everything under it
  return ::fnmatch(full.c_str(), path.c_str(), 0) == 0;                        // "*" also crosses "/", as fnmatchcase
}

bool wanted(const DownloadOptions& options, const std::string& path) {
  if (!options.files.empty()) {
    return std::any_of(options.files.begin(), options.files.end(), [&](const std::string& file) {
      return file == path || (file.ends_with('/') && path.starts_with(file));
    });
  }
  const bool included = options.include.empty() ||
                        std::any_of(options.include.begin(), options.include.end(), [&](const auto& p) { return matches(p, path); });
  const bool excluded = std::any_of(options.exclude.begin(), options.exclude.end(), [&](const auto& p) { return matches(p, path); });
  return included && !excluded;
}

std::unique_ptr<Layout> layout_for(const DownloadOptions& options) {
  if (options.local_dir) return make_folder_layout(*options.local_dir);
  if (options.hub == HubKind::modelscope) return make_folder_layout(modelscope_folder(options.repo_id, options.cache_dir));
  return make_hf_cache_layout(options.cache_dir.value_or(default_hf_cache()));
}

// One line per file at work and a total, redrawn twice a second on stderr.
class ProgressDisplay {
 public:
  ProgressDisplay(const std::vector<RemoteFile>& files, std::vector<std::atomic<std::uint64_t>>& done)
      : files_(files), done_(done), thread_([this] { loop(); }) {}
  ~ProgressDisplay() {
    {
      std::lock_guard lock(mutex_);
      stop_ = true;
    }
    wake_.notify_all();
    thread_.join();
    draw();
    std::fputs("\n", stderr);
  }

 private:
  void loop() {
    std::unique_lock lock(mutex_);
    while (!wake_.wait_for(lock, std::chrono::milliseconds(500), [this] { return stop_; })) draw();
  }
  void draw() {
    std::uint64_t total = 0, received = 0;
    std::string lines;
    int shown = 0;
    for (std::size_t i = 0; i < files_.size(); ++i) {
      const std::uint64_t bytes = done_[i];
      total += files_[i].size;
      received += bytes;
      if (bytes > 0 && bytes < files_[i].size && shown < 8) {
        lines += fmt::format("\x1b[2K  {:<48.48} {:>10} / {:<10}\n", files_[i].path, format_bytes(static_cast<double>(bytes)),
                             format_bytes(static_cast<double>(files_[i].size)));
        ++shown;
      }
    }
    const double seconds = std::chrono::duration<double>(std::chrono::steady_clock::now() - start_).count();
    const double rate = seconds > 0 ? static_cast<double>(received) / seconds : 0;
    const double eta = rate > 0 ? static_cast<double>(total - received) / rate : 0;
    // Back to the first line of the block drawn last time (the cursor is on its last line).
    std::string text = "\r";
    if (previous_lines_ > 1) text += fmt::format("\x1b[{}A", previous_lines_ - 1);
    text += lines;
    for (int i = shown; i < previous_lines_ - 1; ++i) text += "\x1b[2K\n";
    text += fmt::format("\x1b[2K{} / {}  {}/s  ETA {:.0f} s", format_bytes(static_cast<double>(received)),
                        format_bytes(static_cast<double>(total)), format_bytes(rate), eta);
    std::fputs(text.c_str(), stderr);
    std::fflush(stderr);
    previous_lines_ = std::max(previous_lines_, shown + 1);
  }

  const std::vector<RemoteFile>& files_;
  std::vector<std::atomic<std::uint64_t>>& done_;
  std::chrono::steady_clock::time_point start_ = std::chrono::steady_clock::now();
  int previous_lines_ = 0;
  std::mutex mutex_;
  std::condition_variable wake_;
  bool stop_ = false;
  std::thread thread_;
};

}  // namespace

bool offline_mode() { return truthy(environment("HF_HUB_OFFLINE")) || truthy(environment("TRANSFORMERS_OFFLINE")); }

bool DownloadResult::complete() const {
  return std::none_of(files.begin(), files.end(), [](const FileOutcome& f) { return f.state == FileOutcome::State::failed; });
}

DownloadResult download_snapshot(const DownloadOptions& options) {
  if (options.repo_id.find('/') == std::string::npos) throw Error("repository ids look like org/name, not \"" + options.repo_id + "\"");
  if (options.local_dir && options.cache_dir) throw Error("--local-dir and --cache-dir cannot be combined");
  DownloadResult result;
  result.repo_id = options.repo_id;
  result.revision = options.revision.value_or(options.hub == HubKind::modelscope ? "master" : "main");

  if (offline_mode()) {
    if (options.hub != HubKind::huggingface || options.local_dir) throw Error("HF_HUB_OFFLINE is set: only the Hugging Face cache can answer");
    const fs::path root = options.cache_dir.value_or(default_hf_cache());
    const auto folder = cached_snapshot(root, options.repo_id, result.revision);
    if (!folder) throw Error(fmt::format("HF_HUB_OFFLINE is set and {} at {} is not in the cache {}", options.repo_id, result.revision, root.string()));
    result.path = options.files.size() == 1 ? *folder / options.files[0] : *folder;
    std::error_code error;
    if (!fs::exists(result.path, error)) throw Error(fmt::format("HF_HUB_OFFLINE is set and {} is not in the cache", result.path.string()));
    result.commit = folder->filename().string();
    return result;
  }

  // Each endpoint in turn, until one lists the repository. While others remain, an endpoint that
  // fails twice hands over at once instead of going through the whole backoff.
  std::unique_ptr<Source> source;
  Snapshot snapshot;
  std::string last_failure;
  const auto candidates = endpoints(options);
  for (const auto& endpoint : candidates) {
    const auto make_source = [&](const ClientSettings& settings) {
      return options.hub == HubKind::huggingface ? make_huggingface_source(endpoint, settings)
                                                 : make_modelscope_source(endpoint, settings);
    };
    ClientSettings probing = client_settings(options);
    if (&endpoint != &candidates.back()) probing.max_attempts = 2;
    try {
      snapshot = make_source(probing)->snapshot(options.repo_id, result.revision);
      source = make_source(client_settings(options));  // the files get the full retry policy
      result.endpoint = endpoint;
      break;
    } catch (const HubError& error) {
      if (error.status == 404 || error.status == 401 || error.status == 403) throw Error(error.what());  // the answer, not an outage
      last_failure = error.what();
    } catch (const Error& error) {
      last_failure = error.what();
    }
    log::warning("{}: {}; trying the next endpoint", endpoint, last_failure);
  }
  if (!source) throw Error(last_failure);
  result.commit = snapshot.commit;
  if (!options.files.empty() && (!options.include.empty() || !options.exclude.empty())) {
    log::warning("--include/--exclude are ignored when file names are given (as hf download does)");
  }
  std::erase_if(snapshot.files, [&](const RemoteFile& file) { return !wanted(options, file.path); });
  for (const auto& name : options.files) {
    if (!name.ends_with('/') && std::none_of(snapshot.files.begin(), snapshot.files.end(), [&](const auto& f) { return f.path == name; })) {
      throw Error(fmt::format("{} has no file {} at {}", options.repo_id, name, snapshot.commit));
    }
  }

  const auto layout = layout_for(options);
  for (const auto& file : snapshot.files) {
    const bool planned = options.dry_run && (options.force || !layout->have(snapshot, file));
    result.files.push_back({file.path, file.size, planned ? FileOutcome::State::planned : FileOutcome::State::present, {}});
  }
  if (!options.dry_run) {
    std::vector<std::atomic<std::uint64_t>> done(snapshot.files.size());
    std::atomic<std::size_t> next{0};
    const auto worker = [&] {
      for (std::size_t i; (i = next++) < snapshot.files.size();) {
        const RemoteFile& file = snapshot.files[i];
        try {
          if (options.force || !layout->have(snapshot, file)) {
            // --force downloads again, and the rename replaces the old file only once the new one is verified.
            if (download_file(*source, snapshot, file, layout->target(snapshot, file), options.transfer, options.force, done[i])) {
              result.files[i].state = FileOutcome::State::downloaded;
            }
          } else {
            done[i] = file.size;
          }
          layout->publish(snapshot, file);
        } catch (const std::exception& error) {
          result.files[i].state = FileOutcome::State::failed;
          result.files[i].error = error.what();
        }
      }
    };
    {
      std::optional<ProgressDisplay> display;
      if (options.progress) display.emplace(snapshot.files, done);
      run_workers(std::min<std::size_t>(snapshot.files.size(), static_cast<std::size_t>(std::max(1, options.max_workers))), worker);
    }
  }
  // refs/<revision> only for a complete snapshot: an offline run must not be sent to a partial one.
  const fs::path folder = options.dry_run || !result.complete() ? fs::path() : layout->finish(snapshot);
  result.path = options.files.size() == 1 && !options.files[0].ends_with('/') ? folder / options.files[0] : folder;
  return result;
}

}  // namespace llmctl::hub
