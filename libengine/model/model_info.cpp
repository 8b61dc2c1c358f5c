#include "model/model_info.hpp"

#include "common/error.hpp"
#include "model/weight_layout.hpp"

#include <fmt/format.h>

#include <algorithm>

namespace fs = std::filesystem;

namespace llmctl::engine {
namespace {

constexpr std::size_t kMaxListedProblems = 8;

std::vector<ModelFile> list_files(const fs::path& folder) {
  std::vector<ModelFile> files;
  for (const auto& entry : fs::recursive_directory_iterator(folder, fs::directory_options::skip_permission_denied)) {
    if (!entry.is_regular_file()) continue;
    const auto relative = fs::relative(entry.path(), folder).generic_string();
    if (relative.starts_with(".")) continue;  // .cache/, .gitattributes and other housekeeping
    files.push_back({relative, entry.file_size()});
  }
  std::sort(files.begin(), files.end(), [](const ModelFile& a, const ModelFile& b) { return a.path < b.path; });
  return files;
}

std::vector<std::string> compare_layout(const ModelConfig& config, const Checkpoint& checkpoint) {
  std::vector<std::string> problems;
  std::size_t count = 0;
  const auto note = [&](std::string problem) {
    if (++count <= kMaxListedProblems) problems.push_back(std::move(problem));
  };
  std::vector<std::string> expected_names;
  for (const auto& tensor : expected_tensors(config)) {
    expected_names.push_back(tensor.name);
    const auto it = std::lower_bound(checkpoint.tensors.begin(), checkpoint.tensors.end(), tensor.name,
                                     [](const CheckpointTensor& t, const std::string& name) { return t.info.name < name; });
    if (it == checkpoint.tensors.end() || it->info.name != tensor.name) {
      note(fmt::format("missing tensor {}", tensor.name));
      continue;
    }
    const std::vector<std::uint64_t> shape(tensor.shape.begin(), tensor.shape.end());
    if (it->info.shape != shape)
      note(fmt::format("tensor {} has shape [{}] but config.json implies [{}]", tensor.name,
                       fmt::join(it->info.shape, ", "), fmt::join(shape, ", ")));
  }
  std::sort(expected_names.begin(), expected_names.end());
  for (const auto& tensor : checkpoint.tensors) {
    if (tensor.info.name.ends_with("rotary_emb.inv_freq")) continue;  // a buffer older checkpoints saved
    if (!std::binary_search(expected_names.begin(), expected_names.end(), tensor.info.name))
      note(fmt::format("unexpected tensor {}", tensor.info.name));
  }
  if (count > kMaxListedProblems) problems.push_back(fmt::format("... and {} more", count - kMaxListedProblems));
  return problems;
}

}  // namespace

fs::path model_folder(const fs::path& model) {
  std::error_code ec;
  if (fs::is_regular_file(model, ec) && model.filename() == "config.json")
    return model.has_parent_path() ? model.parent_path() : fs::path(".");
  if (!fs::exists(model, ec)) throw Error(fmt::format("{}: no such model folder", model.string()));
  if (!fs::is_directory(model, ec)) throw Error(fmt::format("{}: not a model folder (expected a folder with config.json)", model.string()));
  if (!fs::exists(model / "config.json", ec))
    throw Error(fmt::format("{}: no config.json here; is this a Hugging Face model folder?", model.string()));
  return model;
}

std::uint64_t ModelInfo::parameters() const {
  return checkpoint.tensors.empty() ? config_parameters : checkpoint.parameter_count();
}

std::string_view ModelInfo::parameters_source() const {
  if (checkpoint.tensors.empty()) return "config.json";
  return checkpoint.format == CheckpointFormat::pytorch_bin ? "PyTorch .bin state dicts" : "safetensors headers";
}

ModelInfo describe_model(const fs::path& model) {
  ModelInfo info;
  info.folder = model_folder(model);
  info.config = load_model_config(info.folder);
  info.config_parameters = parameter_count(info.config);
  info.checkpoint = read_checkpoint(info.folder);
  info.generation = load_generation_config(info.folder);
  info.tokenizer = load_tokenizer_config(info.folder);
  info.files = list_files(info.folder);
  for (const auto& file : info.files) info.total_bytes += file.bytes;
  // Quantized checkpoints store packed tensors (qweight, scales) that the plain layout does not describe.
  if (!info.checkpoint.tensors.empty() && info.config.quantization_config.is_null())
    info.layout_problems = compare_layout(info.config, info.checkpoint);
  return info;
}

nlohmann::json ModelInfo::to_json(bool with_tensors) const {
  const auto& c = config;
  nlohmann::json rope = {{"type", c.rope_scaling.type}, {"theta", c.rope_theta}};
  if (c.rope_scaling.type != "default") {
    rope["factor"] = c.rope_scaling.factor;
    if (c.rope_scaling.original_max_position_embeddings)
      rope["original_max_position_embeddings"] = *c.rope_scaling.original_max_position_embeddings;
    if (c.rope_scaling.type == "llama3") {
      rope["low_freq_factor"] = c.rope_scaling.low_freq_factor;
      rope["high_freq_factor"] = c.rope_scaling.high_freq_factor;
    }
  }
  nlohmann::json dtypes = nlohmann::json::object();
  for (const auto& [dtype, count] : checkpoint.parameters_by_dtype()) dtypes[std::string(name(dtype))] = count;

  nlohmann::json json = {
      {"folder", folder.string()},
      {"architecture", c.architecture},
      {"model_type", c.model_type},
      {"parameters", parameters()},
      {"parameters_source", std::string(parameters_source())},
      {"config_parameters", config_parameters},
      {"dtype", c.dtype ? nlohmann::json(std::string(name(*c.dtype))) : nlohmann::json(nullptr)},
      {"checkpoint_dtypes", dtypes},
      {"num_layers", c.num_layers},
      {"hidden_size", c.hidden_size},
      {"intermediate_size", c.intermediate_size},
      {"num_attention_heads", c.num_attention_heads},
      {"num_kv_heads", c.num_kv_heads},
      {"head_dim", c.head_dim},
      {"vocab_size", c.vocab_size},
      {"max_position_embeddings", c.max_position_embeddings},
      {"max_model_len", c.derived_max_model_len()},
      {"rope", rope},
      {"sliding_window", c.sliding_window ? nlohmann::json(*c.sliding_window) : nlohmann::json(nullptr)},
      {"tie_word_embeddings", c.tie_word_embeddings},
      {"quantization_config", c.quantization_config},
      {"checkpoint_format", checkpoint.format == CheckpointFormat::safetensors   ? nlohmann::json("safetensors")
                            : checkpoint.format == CheckpointFormat::pytorch_bin ? nlohmann::json("pytorch_bin")
                                                                                 : nlohmann::json(nullptr)},
      {"checkpoint_files", checkpoint.files},
      {"layout_problems", layout_problems},
      {"total_bytes", total_bytes},
  };
  json["files"] = nlohmann::json::array();
  for (const auto& file : files) json["files"].push_back({{"path", file.path}, {"bytes", file.bytes}});

  nlohmann::json special = nlohmann::json::object();
  if (tokenizer) {
    for (const auto& [key, value] : {std::pair{"bos_token", tokenizer->bos_token}, {"eos_token", tokenizer->eos_token},
                                     {"pad_token", tokenizer->pad_token}, {"unk_token", tokenizer->unk_token}})
      if (value) special[key] = *value;
    json["chat_template"] = tokenizer->chat_template.has_value();
    json["chat_template_file"] = tokenizer->chat_template_file;
    json["named_chat_templates"] = tokenizer->named_chat_templates;
    json["added_special_tokens"] = std::count_if(tokenizer->added_tokens.begin(), tokenizer->added_tokens.end(),
                                                 [](const AddedToken& t) { return t.special; });
  } else {
    json["chat_template"] = false;
  }
  json["special_tokens"] = special;
  const auto& eos = generation && !generation->eos_token_ids.empty() ? generation->eos_token_ids : c.eos_token_ids;
  json["eos_token_ids"] = eos;
  json["bos_token_id"] = c.bos_token_id ? nlohmann::json(*c.bos_token_id) : nlohmann::json(nullptr);
  if (generation) {
    nlohmann::json defaults = nlohmann::json::object();
    if (generation->temperature) defaults["temperature"] = *generation->temperature;
    if (generation->top_p) defaults["top_p"] = *generation->top_p;
    if (generation->top_k) defaults["top_k"] = *generation->top_k;
    if (generation->min_p) defaults["min_p"] = *generation->min_p;
    if (generation->repetition_penalty) defaults["repetition_penalty"] = *generation->repetition_penalty;
    if (generation->max_new_tokens) defaults["max_new_tokens"] = *generation->max_new_tokens;
    json["generation_defaults"] = defaults;
  }
  if (with_tensors) {
    json["tensors"] = nlohmann::json::array();
    for (const auto& tensor : checkpoint.tensors)
      json["tensors"].push_back({{"name", tensor.info.name},
                                 {"dtype", name(tensor.info.dtype)},
                                 {"shape", tensor.info.shape},
                                 {"file", tensor.file}});
  }
  return json;
}

}  // namespace llmctl::engine
