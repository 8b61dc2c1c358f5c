#include "weights/safetensors.hpp"

#include "weights/mapped_file.hpp"

#include "common/error.hpp"
#include "common/json_file.hpp"

#include <fmt/format.h>

#include <algorithm>
#include <fstream>
#include <limits>

namespace llmctl::engine {
namespace {

[[noreturn]] void fail(std::string_view origin, std::string_view problem) {
  throw Error(fmt::format("{}: not a valid safetensors file: {}", origin, problem));
}

// a * b, or nullopt on overflow.
std::optional<std::uint64_t> checked_mul(std::uint64_t a, std::uint64_t b) {
  if (a != 0 && b > std::numeric_limits<std::uint64_t>::max() / a) return std::nullopt;
  return a * b;
}

TensorInfo parse_tensor(const std::string& name, const nlohmann::json& entry, std::string_view origin) {
  if (!entry.is_object()) fail(origin, fmt::format("tensor '{}' is not described by an object", name));
  const auto dtype_it = entry.find("dtype");
  const auto shape_it = entry.find("shape");
  const auto offsets_it = entry.find("data_offsets");
  if (dtype_it == entry.end() || shape_it == entry.end() || offsets_it == entry.end())
    fail(origin, fmt::format("tensor '{}' needs dtype, shape and data_offsets", name));
  if (!dtype_it->is_string()) fail(origin, fmt::format("tensor '{}' has a dtype that is not a string", name));
  const auto dtype = dtype_from_safetensors(dtype_it->get<std::string>());
  if (!dtype) fail(origin, fmt::format("tensor '{}' has unknown dtype '{}'", name, dtype_it->get<std::string>()));

  TensorInfo tensor{name, *dtype, {}, 1, 0, 0};
  if (!shape_it->is_array()) fail(origin, fmt::format("tensor '{}' has a shape that is not a list", name));
  for (const auto& dim : *shape_it) {
    if (!dim.is_number_unsigned()) fail(origin, fmt::format("tensor '{}' has a negative or non-integer dimension", name));
    const auto size = dim.get<std::uint64_t>();
    const auto elements = checked_mul(tensor.elements, size);
    if (!elements) fail(origin, fmt::format("tensor '{}' has a shape too large to address", name));
    tensor.shape.push_back(size);
    tensor.elements = *elements;
  }
  if (!offsets_it->is_array() || offsets_it->size() != 2 || !(*offsets_it)[0].is_number_unsigned() ||
      !(*offsets_it)[1].is_number_unsigned())
    fail(origin, fmt::format("tensor '{}' needs data_offsets [begin, end] of non-negative integers", name));
  tensor.begin = (*offsets_it)[0].get<std::uint64_t>();
  tensor.end = (*offsets_it)[1].get<std::uint64_t>();
  if (tensor.end < tensor.begin) fail(origin, fmt::format("tensor '{}' ends before it begins", name));
  const auto bits = checked_mul(tensor.elements, engine::bits(*dtype));
  if (!bits) fail(origin, fmt::format("tensor '{}' has a shape too large to address", name));
  if ((*bits + 7) / 8 != tensor.end - tensor.begin)
    fail(origin, fmt::format("tensor '{}' ({} {} elements) needs {} bytes but its data_offsets span {}", name,
                             tensor.elements, engine::name(*dtype), (*bits + 7) / 8, tensor.end - tensor.begin));
  return tensor;
}

}  // namespace

std::uint64_t parse_safetensors_prefix(std::string_view prefix, std::uint64_t file_size, std::string_view origin) {
  if (file_size < 8 || prefix.size() < 8) fail(origin, fmt::format("the file is only {} bytes long", file_size));
  std::uint64_t header_bytes = 0;
  for (int i = 7; i >= 0; --i) header_bytes = (header_bytes << 8) | static_cast<unsigned char>(prefix[static_cast<std::size_t>(i)]);
  if (header_bytes > kSafetensorsMaxHeaderBytes)
    fail(origin, fmt::format("the header claims {} bytes (the limit is {})", header_bytes, kSafetensorsMaxHeaderBytes));
  if (header_bytes > file_size - 8)
    fail(origin, fmt::format("the header claims {} bytes but the file has only {} after the length prefix (truncated?)",
                             header_bytes, file_size - 8));
  return header_bytes;
}

SafetensorsHeader parse_safetensors_header(std::string_view header_json, std::uint64_t file_size,
                                           std::string_view origin) {
  if (file_size < 8 || header_json.size() > file_size - 8) fail(origin, "the header runs past the end of the file");
  const auto first = header_json.find_first_not_of(" \t\r\n");
  if (first == std::string_view::npos || header_json[first] != '{') fail(origin, "the header is not a JSON object");
  nlohmann::json header;
  try {
    header = parse_json(header_json, origin);
  } catch (const Error& e) {
    fail(origin, fmt::format("the header is not valid JSON ({})", e.what()));
  }

  SafetensorsHeader result{header_json.size(), file_size - 8 - header_json.size(), {}, {}};
  for (const auto& [key, value] : header.items()) {
    if (key == "__metadata__") {
      if (!value.is_object()) fail(origin, "__metadata__ is not an object");
      for (const auto& [meta_key, meta_value] : value.items()) {
        if (!meta_value.is_string()) fail(origin, fmt::format("__metadata__ value of '{}' is not a string", meta_key));
        result.metadata[meta_key] = meta_value.get<std::string>();
      }
      continue;
    }
    result.tensors.push_back(parse_tensor(key, value, origin));
  }

  // The byte ranges must tile the data section: sorted, no gap, no overlap, ending at its end.
  std::sort(result.tensors.begin(), result.tensors.end(),
            [](const TensorInfo& a, const TensorInfo& b) { return std::tie(a.begin, a.end) < std::tie(b.begin, b.end); });
  std::uint64_t expected_begin = 0;
  for (const auto& tensor : result.tensors) {
    if (tensor.begin != expected_begin)
      fail(origin, fmt::format("tensor '{}' starts at byte {} of the data, expected {} (overlap or gap)", tensor.name,
                               tensor.begin, expected_begin));
    expected_begin = tensor.end;
  }
  if (expected_begin != result.data_bytes)
    fail(origin, fmt::format("the tensors cover {} bytes but the file holds {} data bytes (truncated or padded)",
                             expected_begin, result.data_bytes));
  return result;
}

SafetensorsHeader read_safetensors_header(const std::filesystem::path& path) {
  const std::string origin = path.string();
  std::error_code ec;
  const auto file_size = std::filesystem::file_size(path, ec);
  if (ec) throw Error(fmt::format("{}: {}", origin, ec.message()));
  std::ifstream in(path, std::ios::binary);
  if (!in) throw Error(fmt::format("{}: cannot be read", origin));
  std::string prefix(8, '\0');
  in.read(prefix.data(), static_cast<std::streamsize>(std::min<std::uint64_t>(8, file_size)));
  const auto header_bytes = parse_safetensors_prefix(prefix, file_size, origin);
  std::string header(header_bytes, '\0');
  if (!in.read(header.data(), static_cast<std::streamsize>(header_bytes)))
    throw Error(fmt::format("{}: read error in the header", origin));
  return parse_safetensors_header(header, file_size, origin);
}

void read_safetensors(const std::filesystem::path& path, const TensorVisitor& visit) {
  const MappedFile file(path);
  const auto bytes = file.bytes();
  const std::string origin = path.string();
  const std::string_view text(reinterpret_cast<const char*>(bytes.data()), bytes.size());
  const auto header_bytes = parse_safetensors_prefix(text.substr(0, 8), bytes.size(), origin);
  const auto header = parse_safetensors_header(text.substr(8, header_bytes), bytes.size(), origin);
  const auto data = bytes.subspan(header.data_offset());
  for (const auto& tensor : header.tensors) {
    HostTensor host{tensor.dtype, {}, data.subspan(tensor.begin, tensor.end - tensor.begin)};
    host.shape.assign(tensor.shape.begin(), tensor.shape.end());
    visit(tensor.name, host);
  }
}

}  // namespace llmctl::engine
