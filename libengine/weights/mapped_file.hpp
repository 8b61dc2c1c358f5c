#pragma once

#include <cstddef>
#include <filesystem>
#include <span>

namespace llmctl::engine {

// A whole file mapped read-only into memory: checkpoint shards are read through the page cache without
// a copy, and pages of tensors already converted can be dropped by the kernel under memory pressure.
class MappedFile {
 public:
  explicit MappedFile(const std::filesystem::path& path);  // llmctl::Error naming the file on failure
  ~MappedFile();
  MappedFile(const MappedFile&) = delete;
  MappedFile& operator=(const MappedFile&) = delete;

  std::span<const std::byte> bytes() const { return {data_, size_}; }

 private:
  const std::byte* data_ = nullptr;
  std::size_t size_ = 0;
};

}  // namespace llmctl::engine
