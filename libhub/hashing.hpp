#pragma once

#include <cstdint>
#include <filesystem>
#include <memory>
#include <string>
#include <string_view>

namespace llmctl::hub {

// What a hub promises about a file's bytes: the sha256 of the content (LFS files, ModelScope), or
// git's blob sha1 (regular files in a Hugging Face repo: sha1("blob <size>\0" + content)).
enum class HashKind { sha256, git_blob_sha1 };

// An incremental hash; `hex()` ends it. For git_blob_sha1 the size must be known up front.
class Hasher {
 public:
  Hasher(HashKind kind, std::uint64_t size);
  ~Hasher();
  Hasher(Hasher&&) noexcept;
  void update(std::string_view bytes);
  std::string hex();

 private:
  struct State;
  std::unique_ptr<State> state_;
};

// The hash of a whole file, read in large blocks.
std::string hash_file(const std::filesystem::path& path, HashKind kind);

}  // namespace llmctl::hub
