#include "weights/checkpoint.hpp"

#include "common/error.hpp"
#include "common/json_file.hpp"
#include "weights/pytorch_bin.hpp"

#include <fmt/format.h>

#include <algorithm>

namespace fs = std::filesystem;

namespace llmctl::engine {
namespace {

// A file name taken from an index file must stay inside the model folder.
void check_relative_name(const std::string& name, const fs::path& index) {
  const fs::path path(name);
  bool escapes = name.empty() || path.is_absolute() || name.find('\\') != std::string::npos;
  for (const auto& part : path)
    if (part == "..") escapes = true;
  if (escapes) throw Error(fmt::format("{}: refusing shard file name '{}' (it leaves the model folder)", index.string(), name));
}

std::uint64_t size_of(const fs::path& path) {
  std::error_code ec;
  const auto size = fs::file_size(path, ec);
  if (ec) throw Error(fmt::format("{}: {}", path.string(), ec.message()));
  return size;
}

// The shard files named by an index's weight_map, in first-mention order, checked to be inside `folder`.
std::vector<std::string> index_shards(const fs::path& index_path, std::map<std::string, std::string>* weight_map) {
  const auto index = read_json_file(index_path);
  const auto map_it = index.is_object() ? index.find("weight_map") : index.end();
  if (map_it == index.end() || !map_it->is_object())
    throw Error(fmt::format("{}: expected an object with a \"weight_map\" object", index_path.string()));
  std::vector<std::string> shards;
  for (const auto& [tensor, file] : map_it->items()) {
    if (!file.is_string())
      throw Error(fmt::format("{}: weight_map entry '{}' is not a file name", index_path.string(), tensor));
    const auto name = file.get<std::string>();
    check_relative_name(name, index_path);
    if (std::find(shards.begin(), shards.end(), name) == shards.end()) shards.push_back(name);
    if (weight_map != nullptr) (*weight_map)[tensor] = name;
  }
  if (shards.empty()) throw Error(fmt::format("{}: weight_map is empty", index_path.string()));
  return shards;
}

void add_safetensors_file(Checkpoint& checkpoint, const fs::path& folder, const std::string& name) {
  const auto path = folder / name;
  if (!fs::exists(path)) throw Error(fmt::format("{}: missing checkpoint shard", path.string()));
  const auto header = read_safetensors_header(path);
  checkpoint.files.push_back(name);
  checkpoint.file_bytes += size_of(path);
  for (const auto& tensor : header.tensors) checkpoint.tensors.push_back({tensor, name});
}

// Lists the tensors from the pickled state dict alone (see pytorch_bin.hpp: no tensor data is read).
void add_pytorch_bin_file(Checkpoint& checkpoint, const fs::path& folder, const std::string& name) {
  const auto path = folder / name;
  if (!fs::exists(path)) throw Error(fmt::format("{}: missing checkpoint shard", path.string()));
  checkpoint.files.push_back(name);
  checkpoint.file_bytes += size_of(path);
  for (auto& tensor : list_pytorch_bin_tensors(path)) checkpoint.tensors.push_back({std::move(tensor), name});
}

// Every tensor an index names must be in the shard it names.
void check_weight_map(const fs::path& index_path, const std::map<std::string, std::string>& weight_map,
                      const Checkpoint& checkpoint) {
  std::map<std::string, std::string> found;
  for (const auto& tensor : checkpoint.tensors) found.emplace(tensor.info.name, tensor.file);
  for (const auto& [tensor, file] : weight_map) {
    const auto it = found.find(tensor);
    if (it == found.end() || it->second != file)
      throw Error(fmt::format("{}: tensor '{}' is listed in {} but that shard does not hold it", index_path.string(),
                              tensor, file));
  }
}

}  // namespace

std::uint64_t Checkpoint::parameter_count() const {
  std::uint64_t total = 0;
  for (const auto& tensor : tensors) total += tensor.info.elements;
  return total;
}

std::map<DType, std::uint64_t> Checkpoint::parameters_by_dtype() const {
  std::map<DType, std::uint64_t> counts;
  for (const auto& tensor : tensors) counts[tensor.info.dtype] += tensor.info.elements;
  return counts;
}

Checkpoint read_checkpoint(const fs::path& folder) {
  Checkpoint checkpoint;
  if (const auto index_path = folder / "model.safetensors.index.json"; fs::exists(index_path)) {
    checkpoint.format = CheckpointFormat::safetensors;
    std::map<std::string, std::string> weight_map;
    for (const auto& shard : index_shards(index_path, &weight_map)) add_safetensors_file(checkpoint, folder, shard);
    check_weight_map(index_path, weight_map, checkpoint);
  } else if (fs::exists(folder / "model.safetensors")) {
    checkpoint.format = CheckpointFormat::safetensors;
    add_safetensors_file(checkpoint, folder, "model.safetensors");
  } else {
    std::vector<std::string> names;
    for (const auto& entry : fs::directory_iterator(folder))
      if (entry.is_regular_file() && entry.path().extension() == ".safetensors") names.push_back(entry.path().filename());
    std::sort(names.begin(), names.end());
    if (!names.empty()) {
      checkpoint.format = CheckpointFormat::safetensors;
      for (const auto& name : names) add_safetensors_file(checkpoint, folder, name);
    } else if (const auto bin_index = folder / "pytorch_model.bin.index.json"; fs::exists(bin_index)) {
      checkpoint.format = CheckpointFormat::pytorch_bin;
      std::map<std::string, std::string> weight_map;
      for (const auto& shard : index_shards(bin_index, &weight_map)) add_pytorch_bin_file(checkpoint, folder, shard);
      check_weight_map(bin_index, weight_map, checkpoint);
    } else if (fs::exists(folder / "pytorch_model.bin")) {
      checkpoint.format = CheckpointFormat::pytorch_bin;
      add_pytorch_bin_file(checkpoint, folder, "pytorch_model.bin");
    }
  }
  std::sort(checkpoint.tensors.begin(), checkpoint.tensors.end(),
            [](const CheckpointTensor& a, const CheckpointTensor& b) { return a.info.name < b.info.name; });
  const auto duplicate = std::adjacent_find(checkpoint.tensors.begin(), checkpoint.tensors.end(),
                                            [](const auto& a, const auto& b) { return a.info.name == b.info.name; });
  if (duplicate != checkpoint.tensors.end())
    throw Error(fmt::format("{}: tensor '{}' appears in both {} and {}", folder.string(), duplicate->info.name,
                            duplicate->file, std::next(duplicate)->file));
  return checkpoint;
}

}  // namespace llmctl::engine
