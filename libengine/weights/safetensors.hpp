#pragma once

#include "weights/dtype.hpp"
#include "weights/host_tensor.hpp"

#include <cstdint>
#include <filesystem>
#include <map>
#include <string>
#include <string_view>
#include <vector>

namespace llmctl::engine {

// The safetensors format: an 8-byte little-endian header length N, N bytes of JSON describing every
// tensor (dtype, shape, byte range within the data), then the data.
inline constexpr std::uint64_t kSafetensorsMaxHeaderBytes = 100'000'000;  // the reference library's limit

struct TensorInfo {
  std::string name;
  DType dtype;
  std::vector<std::uint64_t> shape;
  std::uint64_t elements;
  std::uint64_t begin;  // byte range within the data section
  std::uint64_t end;
};

struct SafetensorsHeader {
  std::uint64_t header_bytes;  // N
  std::uint64_t data_bytes;    // file size - 8 - N
  std::vector<TensorInfo> tensors;  // in data order
  std::map<std::string, std::string> metadata;

  std::uint64_t data_offset() const { return 8 + header_bytes; }
};

// Validates the 8-byte length prefix of a file of `file_size` bytes and returns N. Throws llmctl::Error
// (naming `origin`) when the file is too short or N is oversized or runs past the end of the file.
std::uint64_t parse_safetensors_prefix(std::string_view prefix, std::uint64_t file_size, std::string_view origin);

// Parses and validates the JSON header: known dtypes, shapes whose byte size matches the byte range,
// ranges that tile the data section exactly (no gaps, overlaps or bytes past the end).
SafetensorsHeader parse_safetensors_header(std::string_view header_json, std::uint64_t file_size,
                                           std::string_view origin);

// Reads only the header of a local file (two small reads; tensor data is never touched).
SafetensorsHeader read_safetensors_header(const std::filesystem::path& path);

// Maps the file, validates its header and visits every tensor in data order.
void read_safetensors(const std::filesystem::path& path, const TensorVisitor& visit);

}  // namespace llmctl::engine
