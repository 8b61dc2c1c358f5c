#include "libhub/file_transfer.hpp"
#include "libhub/workers.hpp"

#include "common/error.hpp"
#include "common/json_file.hpp"
#include "common/log.hpp"

#include <fmt/format.h>
#include <nlohmann/json.hpp>

#include <fcntl.h>
#include <sys/file.h>
#include <unistd.h>

#include <cstring>
#include <fstream>
#include <mutex>
#include <regex>
#include <set>
#include <thread>
#include <vector>

namespace llmctl::hub {
namespace {

namespace fs = std::filesystem;

class FileDescriptor {
 public:
  FileDescriptor(const fs::path& path, int flags) : fd_(::open(path.c_str(), flags | O_CLOEXEC, 0644)) {
    if (fd_ < 0) throw Error(path.string() + ": cannot open: " + std::strerror(errno));
  }
  ~FileDescriptor() { ::close(fd_); }
  FileDescriptor(const FileDescriptor&) = delete;
  FileDescriptor& operator=(const FileDescriptor&) = delete;
  int get() const { return fd_; }

 private:
  int fd_;
};

// The chunks of a partial download already written, kept beside it so that a later run resumes.
// The record names the content (hash and size): a partial file of other bytes is never resumed.
struct ResumeRecord {
  std::string hash;
  std::uint64_t size = 0;
  std::uint64_t chunk_bytes = 0;
  std::set<std::uint64_t> done;

  static ResumeRecord load(const fs::path& path) {
    std::error_code error;
    if (!fs::exists(path, error)) return {};
    try {
      const auto json = read_json_file(path);
      return {json.at("hash").get<std::string>(), json.at("size").get<std::uint64_t>(),
              json.at("chunk_bytes").get<std::uint64_t>(), json.at("done").get<std::set<std::uint64_t>>()};
    } catch (const std::exception&) {
      return {};  // an unreadable record (cut by a crash) means: start again
    }
  }
  void save(const fs::path& path) const {
    const fs::path temporary = path.string() + ".tmp";
    {
      std::ofstream out(temporary, std::ios::trunc);
      out << nlohmann::json{{"hash", hash}, {"size", size}, {"chunk_bytes", chunk_bytes}, {"done", done}}.dump();
    }
    fs::rename(temporary, path);
  }
};

// "bytes START-END/TOTAL" of a 206 answer.
bool content_range_is(const HttpResponse& response, std::uint64_t first, std::uint64_t last) {
  const auto header = response.header("content-range");
  if (!header) return false;
  static const std::regex pattern(R"(bytes\s+(\d+)-(\d+)/(\d+|\*))");
  std::smatch match;
  return std::regex_search(*header, match, pattern) && std::stoull(match[1].str()) == first && std::stoull(match[2].str()) == last;
}

class Download {
 public:
  Download(Source& source, const Snapshot& snapshot, const RemoteFile& file, const TransferTarget& target,
           const TransferOptions& options, std::atomic<std::uint64_t>& bytes_done)
      : source_(source), snapshot_(snapshot), file_(file), destination_(target.destination), options_(options), bytes_done_(bytes_done),
        partial_(target.partial), record_path_(target.partial.string() + ".json") {}

  void run() {
    for (int attempt = 1;; ++attempt) {
      fetch();
      const std::string actual = hash_file(partial_, file_.hash_kind);
      if (actual == file_.hash) break;
      discard();
      if (attempt >= options_.attempts) {
        throw Error(fmt::format("{}: the downloaded bytes do not match the hub's {} ({} expected, {} received) after {} attempts",
                                file_.path, file_.hash_kind == HashKind::sha256 ? "sha256" : "git blob sha1", file_.hash, actual,
                                attempt));
      }
      log::warning("{}: hash mismatch, downloading it again", file_.path);
      bytes_done_ = 0;
    }
    fs::rename(partial_, destination_);
    std::error_code ignored;
    fs::remove(record_path_, ignored);
  }

 private:
  void discard() {
    std::error_code ignored;
    fs::remove(partial_, ignored);
    fs::remove(record_path_, ignored);
  }

  // Gets every missing chunk into the partial file.
  void fetch() {
    record_ = ResumeRecord::load(record_path_);
    std::error_code error;
    const bool resumable = record_.hash == file_.hash && record_.size == file_.size && record_.chunk_bytes == options_.chunk_bytes &&
                           fs::exists(partial_, error) && fs::file_size(partial_, error) == file_.size;
    if (!resumable) {
      discard();
      record_ = ResumeRecord{file_.hash, file_.size, options_.chunk_bytes, {}};
    }
    FileDescriptor out(partial_, O_WRONLY | O_CREAT);
    if (::ftruncate(out.get(), static_cast<off_t>(file_.size)) != 0) {
      throw Error(partial_.string() + ": cannot size the file: " + std::strerror(errno));
    }
    record_.save(record_path_);
    if (file_.size == 0) return;
    const std::uint64_t chunks = std::max<std::uint64_t>(1, (file_.size + options_.chunk_bytes - 1) / options_.chunk_bytes);
    std::vector<std::uint64_t> todo;
    for (std::uint64_t i = 0; i < chunks; ++i) {
      if (record_.done.contains(i)) {
        bytes_done_ += chunk_length(i);
      } else {
        todo.push_back(i);
      }
    }
    if (todo.empty()) return;
    location_ = source_.client().locate(source_.file_url(snapshot_, file_));
    std::atomic<std::size_t> next{0};
    std::mutex failure_mutex;
    std::string failure;
    bool ranges_ignored = false;
    const auto worker = [&] {
      for (std::size_t i; (i = next++) < todo.size();) {
        {
          std::lock_guard lock(failure_mutex);
          if (!failure.empty() || ranges_ignored) return;
        }
        try {
          fetch_chunk(out.get(), todo[i], chunks == 1);
        } catch (const RangesIgnored&) {
          std::lock_guard lock(failure_mutex);
          ranges_ignored = true;
          return;
        } catch (const std::exception& e) {
          std::lock_guard lock(failure_mutex);
          if (failure.empty()) failure = e.what();
          return;
        }
      }
    };
    run_workers(std::min<std::size_t>(todo.size(), static_cast<std::size_t>(std::max(1, options_.connections))), worker);
    if (!failure.empty()) throw Error(failure);
    if (ranges_ignored) {
      log::info("{}: the server ignores Range requests; downloading it in one stream", file_.path);
      bytes_done_ = 0;
      fetch_range(out.get(), 0, file_.size, false);
    }
    ::fdatasync(out.get());
  }

  std::uint64_t chunk_length(std::uint64_t index) const {
    const std::uint64_t first = index * options_.chunk_bytes;
    return std::min(options_.chunk_bytes, file_.size - first);
  }

  Location current_location() {
    std::lock_guard lock(location_mutex_);
    return location_;
  }

  // A signed URL that stopped working: ask the hub again (once per expiry, however many workers saw it).
  void relocate(const std::string& stale_url) {
    std::lock_guard lock(location_mutex_);
    if (location_.url == stale_url) location_ = source_.client().locate(source_.file_url(snapshot_, file_));
  }

  // Thrown when a server answers a Range request with the whole file: the download goes on as one
  // stream.
  struct RangesIgnored {};

  void fetch_chunk(int fd, std::uint64_t index, bool whole_file) {
    fetch_range(fd, index * options_.chunk_bytes, whole_file ? file_.size : chunk_length(index), !whole_file);
    std::lock_guard lock(record_mutex_);
    record_.done.insert(index);
    record_.save(record_path_);
  }

  // Writes bytes [first, first + length) of the file at their place, retrying what can be retried.
  void fetch_range(int fd, std::uint64_t first, std::uint64_t length, bool ranged) {
    const std::uint64_t last = first + length - 1;
    for (int attempt = 1;; ++attempt) {
      const Location location = current_location();
      std::uint64_t written = 0;
      HttpRequest request;
      request.url = location.url;
      if (ranged) request.range = {{first, last}};
      const auto on_body = [&](std::string_view bytes) {
        if (written + bytes.size() > length) return false;  // more than asked for: never written past the range
        if (::pwrite(fd, bytes.data(), bytes.size(), static_cast<off_t>(first + written)) != static_cast<ssize_t>(bytes.size())) {
          return false;
        }
        written += bytes.size();
        bytes_done_ += bytes.size();
        return true;
      };
      const auto reset = [&] {
        bytes_done_ -= written;
        written = 0;
      };
      std::string problem;
      try {
        const HttpResponse response = source_.client().request(request, on_body, reset);
        if (ranged && response.status == 200) throw RangesIgnored{};
        if (response.status == 403 && !location.send_auth) {
          problem = "403 from the file server (an expired signed URL?): asking the hub again";
          relocate(location.url);
        } else if (response.status != 200 && response.status != 206) {
          throw hub_error(location.url, response);
        } else if (response.status == 206 && !content_range_is(response, first, last)) {
          problem = "the server sent another range than the one asked for";
        } else if (response.body_refused || written != length) {
          problem = fmt::format("{} bytes instead of {}", written + (response.body_refused ? 1 : 0), length);
        } else {
          return;
        }
      } catch (const HubError&) {
        throw;
      } catch (const Error& error) {
        problem = error.what();  // the client's retries of a transport failure are used up
      }
      reset();
      if (attempt >= 5) throw Error(fmt::format("{}: bytes {}-{}: {}", file_.path, first, last, problem));
      log::debug("{}: bytes {}-{}: {}; again", file_.path, first, last, problem);
      std::this_thread::sleep_for(std::chrono::milliseconds(250 * attempt));
    }
  }

  Source& source_;
  const Snapshot& snapshot_;
  const RemoteFile& file_;
  fs::path destination_;
  TransferOptions options_;
  std::atomic<std::uint64_t>& bytes_done_;
  fs::path partial_, record_path_;
  std::mutex record_mutex_, location_mutex_;
  ResumeRecord record_;
  Location location_;
};

// An advisory lock on `path` held while this object lives; flock is released by the kernel when the
// process dies, so a killed download leaves no stale lock.
class FileLock {
 public:
  explicit FileLock(const fs::path& path) : fd_(::open(path.c_str(), O_RDWR | O_CREAT | O_CLOEXEC, 0644)) {
    if (fd_ >= 0) ::flock(fd_, LOCK_EX);
  }
  ~FileLock() {
    if (fd_ >= 0) ::close(fd_);
  }
  FileLock(const FileLock&) = delete;
  FileLock& operator=(const FileLock&) = delete;

 private:
  int fd_;
};

}  // namespace

bool download_file(Source& source, const Snapshot& snapshot, const RemoteFile& file, const TransferTarget& target,
                   const TransferOptions& options, bool force, std::atomic<std::uint64_t>& bytes_done) {
  fs::create_directories(target.destination.parent_path());
  fs::create_directories(target.partial.parent_path());
  fs::create_directories(target.lock.parent_path());
  const FileLock lock(target.lock);
  std::error_code error;
  // A file already there (left by another process, an older download, a git clone without LFS) is
  // used only when it is known right: named by its hash, or hashed here and matching.
  if (!force && fs::exists(target.destination, error) &&
      (target.content_addressed || hash_file(target.destination, file.hash_kind) == file.hash)) {
    bytes_done += file.size;
    return false;
  }
  Download(source, snapshot, file, target, options, bytes_done).run();
  return true;
}

}  // namespace llmctl::hub
