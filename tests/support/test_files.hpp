#pragma once

#include <nlohmann/json.hpp>

#include <cstdint>
#include <cstdlib>
#include <filesystem>
#include <fstream>
#include <random>
#include <string>
#include <vector>

namespace llmctl::test {

// The source tree the build came from; LLMCTL_SOURCE_DIR overrides it where the tests run from a copy
// (the GPU machine).
inline const std::filesystem::path kSourceDir =
    std::getenv("LLMCTL_SOURCE_DIR") != nullptr ? std::getenv("LLMCTL_SOURCE_DIR") : LLMCTL_SOURCE_DIR;
inline const std::filesystem::path kFixtures = kSourceDir / "tests" / "fixtures";
// The real tokenizer files tests/tokenizers/fetch.sh downloads (ctest's fetch_tokenizers fixture runs
// it); LLMCTL_TOKENIZER_DIR overrides the place.
inline const std::filesystem::path kTokenizerFiles =
    std::getenv("LLMCTL_TOKENIZER_DIR") != nullptr ? std::getenv("LLMCTL_TOKENIZER_DIR") : LLMCTL_TOKENIZER_DIR;

// A fresh empty folder under the system temp dir, removed when the object goes away.
class TempDir {
 public:
  TempDir() {
    std::random_device random;
    path_ = std::filesystem::temp_directory_path() / ("llmctl-test-" + std::to_string(random()));
    std::filesystem::create_directories(path_);
  }
  ~TempDir() { std::filesystem::remove_all(path_); }
  TempDir(const TempDir&) = delete;
  TempDir& operator=(const TempDir&) = delete;
  const std::filesystem::path& path() const { return path_; }
  std::filesystem::path operator/(const std::string& name) const { return path_ / name; }

 private:
  std::filesystem::path path_;
};

inline void write_file(const std::filesystem::path& path, const std::string& bytes) {
  std::ofstream out(path, std::ios::binary);
  out << bytes;
}

inline std::string read_file(const std::filesystem::path& path) {
  std::ifstream in(path, std::ios::binary);
  return {std::istreambuf_iterator<char>(in), std::istreambuf_iterator<char>()};
}

// The bytes of a safetensors file: 8-byte little-endian length, header JSON, `data_bytes` bytes of data.
inline std::string safetensors_bytes(const std::string& header_json, std::uint64_t data_bytes) {
  std::string bytes(8, '\0');
  std::uint64_t length = header_json.size();
  for (int i = 0; i < 8; ++i) bytes[static_cast<std::size_t>(i)] = static_cast<char>((length >> (8 * i)) & 0xff);
  return bytes + header_json + std::string(data_bytes, '\x5a');
}

struct FakeTensor {
  std::string name;
  std::string dtype;
  std::vector<std::uint64_t> shape;
  std::uint64_t element_bytes;
};

// A well-formed safetensors file holding `tensors` back to back.
inline std::string safetensors_file(const std::vector<FakeTensor>& tensors) {
  nlohmann::json header = nlohmann::json::object();
  std::uint64_t offset = 0;
  for (const auto& tensor : tensors) {
    std::uint64_t bytes = tensor.element_bytes;
    for (auto dim : tensor.shape) bytes *= dim;
    header[tensor.name] = {{"dtype", tensor.dtype}, {"shape", tensor.shape}, {"data_offsets", {offset, offset + bytes}}};
    offset += bytes;
  }
  header["__metadata__"] = {{"format", "pt"}};
  return safetensors_bytes(header.dump(), offset);
}

// Copies a fixture folder into `dir` so that a test can damage it.
inline std::filesystem::path copy_fixture(const std::string& relative, const TempDir& dir) {
  const auto target = dir.path() / std::filesystem::path(relative).filename();
  std::filesystem::copy(kFixtures / relative, target, std::filesystem::copy_options::recursive);
  return target;
}

}  // namespace llmctl::test
