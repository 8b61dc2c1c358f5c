#pragma once

#include "weights/safetensors.hpp"

#include <cstdint>
#include <filesystem>
#include <map>
#include <string>
#include <vector>

namespace llmctl::engine {

enum class CheckpointFormat { none, safetensors, pytorch_bin };

struct CheckpointTensor {
  TensorInfo info;
  std::string file;  // relative to the model folder
};

// The weight files of a model folder and every tensor they hold, from the safetensors headers or the
// pickled state dicts of PyTorch .bin files alone: tensor data is never read here.
struct Checkpoint {
  CheckpointFormat format = CheckpointFormat::none;
  std::vector<std::string> files;  // relative to the model folder
  std::uint64_t file_bytes = 0;
  std::vector<CheckpointTensor> tensors;  // sorted by name; begin/end are 0 for pytorch_bin

  std::uint64_t parameter_count() const;
  std::map<DType, std::uint64_t> parameters_by_dtype() const;
};

// Finds the checkpoint as transformers does: model.safetensors.index.json (sharded), model.safetensors,
// other top-level *.safetensors files, then pytorch_model.bin(.index.json). Each safetensors header and
// .bin state dict is validated; an index naming a missing shard or a tensor that its shard lacks is an
// llmctl::Error.
Checkpoint read_checkpoint(const std::filesystem::path& folder);

}  // namespace llmctl::engine
