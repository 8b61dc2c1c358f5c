#pragma once

#include "model/generation_config.hpp"
#include "model/model_config.hpp"
#include "tokenizer/tokenizer_config.hpp"
#include "weights/checkpoint.hpp"

#include <nlohmann/json.hpp>

#include <cstdint>
#include <filesystem>
#include <optional>
#include <string>
#include <string_view>
#include <vector>

namespace llmctl::engine {

struct ModelFile {
  std::string path;  // relative to the model folder
  std::uint64_t bytes;
};

// Everything `llmctl inspect` reports about a model folder, read from its metadata files and the
// safetensors headers or .bin state dicts (never the tensor data).
struct ModelInfo {
  std::filesystem::path folder;
  ModelConfig config;
  std::uint64_t config_parameters;  // implied by config.json
  Checkpoint checkpoint;
  std::optional<GenerationConfig> generation;
  std::optional<TokenizerConfig> tokenizer;
  std::vector<ModelFile> files;
  std::uint64_t total_bytes = 0;
  // Where the checkpoint disagrees with config.json: missing, unexpected or misshapen tensors.
  std::vector<std::string> layout_problems;

  // Exact count from the checkpoint's tensors when there are any, else the count config.json implies.
  std::uint64_t parameters() const;
  // Where parameters() comes from: "safetensors headers", "PyTorch .bin state dicts" or "config.json".
  std::string_view parameters_source() const;

  nlohmann::json to_json(bool with_tensors) const;
};

// Accepts a model folder or the path of its config.json. A missing folder, a folder without
// config.json and malformed metadata are llmctl::Error.
ModelInfo describe_model(const std::filesystem::path& model);

// The model folder that `model` names: the folder itself, or the parent of a config.json path.
std::filesystem::path model_folder(const std::filesystem::path& model);

}  // namespace llmctl::engine
