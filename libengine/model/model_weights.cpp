#include "model/model_weights.hpp"

#include "common/error.hpp"
#include "weights/checkpoint.hpp"
#include "weights/dtype_convert.hpp"
#include "weights/pytorch_bin.hpp"
#include "weights/safetensors.hpp"

#include <fmt/format.h>
#include <fmt/ranges.h>

#include <map>
#include <set>

namespace llmctl::engine {
namespace {

// Where one checkpoint tensor goes: rows [first_row, first_row + shape[0]) of a backend tensor.
struct Destination {
  Tensor tensor;
  std::int64_t first_row;
  std::vector<std::int64_t> shape;
  bool loaded = false;
};

class WeightLoader {
 public:
  WeightLoader(const ModelConfig& config, Backend& backend) : config_(config), backend_(backend) {}

  ModelWeights plan() {
    const auto& c = config_;
    const std::int64_t q = c.num_attention_heads * c.head_dim;
    const std::int64_t kv = c.num_kv_heads * c.head_dim;
    const std::int64_t h = c.hidden_size;
    const std::int64_t ffn = c.intermediate_size;
    ModelWeights w;
    w.embed_tokens = matrix("model.embed_tokens.weight", c.vocab_size, h);
    w.layers.resize(static_cast<std::size_t>(c.num_layers));
    for (std::int64_t i = 0; i < c.num_layers; ++i) {
      auto& l = w.layers[static_cast<std::size_t>(i)];
      const std::string p = fmt::format("model.layers.{}.", i);
      l.input_norm = vector(p + "input_layernorm.weight", h);
      l.qkv = fused(p + "self_attn.", {"q_proj", "k_proj", "v_proj"}, {q, kv, kv}, h, ".weight");
      if (c.qkv_bias) l.qkv_bias = fused(p + "self_attn.", {"q_proj", "k_proj", "v_proj"}, {q, kv, kv}, 0, ".bias");
      if (c.qk_norm) {
        l.q_norm = vector(p + "self_attn.q_norm.weight", c.head_dim);
        l.k_norm = vector(p + "self_attn.k_norm.weight", c.head_dim);
      }
      l.o_proj = matrix(p + "self_attn.o_proj.weight", h, q);
      if (c.o_bias) l.o_bias = vector(p + "self_attn.o_proj.bias", h);
      l.post_attention_norm = vector(p + "post_attention_layernorm.weight", h);
      l.gate_up = fused(p + "mlp.", {"gate_proj", "up_proj"}, {ffn, ffn}, h, ".weight");
      if (c.mlp_bias) l.gate_up_bias = fused(p + "mlp.", {"gate_proj", "up_proj"}, {ffn, ffn}, 0, ".bias");
      l.down = matrix(p + "mlp.down_proj.weight", h, ffn);
      if (c.mlp_bias) l.down_bias = vector(p + "mlp.down_proj.bias", h);
    }
    w.final_norm = vector("model.norm.weight", h);
    w.lm_head = c.tie_word_embeddings ? w.embed_tokens : matrix("lm_head.weight", c.vocab_size, h);
    return w;
  }

  void load(const std::string& name, const HostTensor& tensor, const std::string& file) {
    const auto it = destinations_.find(name);
    if (it == destinations_.end()) {
      // Buffers older exports saved beside the parameters; tied checkpoints sometimes keep lm_head too.
      if (name.ends_with("rotary_emb.inv_freq") || (config_.tie_word_embeddings && name == "lm_head.weight")) return;
      throw Error(fmt::format("{}: unexpected tensor '{}' for {} (is config.json the checkpoint's own?)", file, name,
                              config_.architecture));
    }
    auto& destination = it->second;
    if (destination.loaded) throw Error(fmt::format("{}: tensor '{}' appears twice in the checkpoint", file, name));
    if (tensor.shape != destination.shape)
      throw Error(fmt::format("{}: tensor '{}' has shape [{}] but config.json implies [{}]", file, name,
                              fmt::join(tensor.shape, ", "), fmt::join(destination.shape, ", ")));
    if (!is_convertible_float(tensor.dtype))
      throw Error(fmt::format("{}: tensor '{}' has dtype {}, which the engine cannot load (F32, F16 or BF16 expected)",
                              file, name, engine::name(tensor.dtype)));
    backend_.upload(destination.tensor, destination.first_row, tensor);
    destination.loaded = true;
  }

  void fill_dummy() {
    std::uint64_t seed = 0;
    std::set<const std::byte*> filled;  // a fused tensor is the destination of several names
    for (auto& [name, destination] : destinations_) {
      if (filled.insert(destination.tensor.data).second) backend_.fill_uniform(destination.tensor, ++seed, -1e-3f, 1e-3f);
      destination.loaded = true;
    }
  }

  void check_complete(const std::filesystem::path& folder) const {
    for (const auto& [name, destination] : destinations_)
      if (!destination.loaded)
        throw Error(fmt::format("{}: the checkpoint lacks tensor '{}' that {} needs", folder.string(), name,
                                config_.architecture));
  }

 private:
  Tensor matrix(const std::string& name, std::int64_t rows, std::int64_t cols) {
    auto tensor = backend_.allocate(backend_.compute_dtype(), rows, cols);
    destinations_[name] = {tensor, 0, {rows, cols}};
    return tensor;
  }

  Tensor vector(const std::string& name, std::int64_t size) {
    auto tensor = backend_.allocate(backend_.compute_dtype(), size, 1);
    destinations_[name] = {tensor, 0, {size}};
    return tensor;
  }

  // Parts stacked by rows; `cols` 0 means the parts are vectors (biases).
  Tensor fused(const std::string& prefix, std::initializer_list<const char*> parts,
               std::initializer_list<std::int64_t> rows, std::int64_t cols, const char* suffix) {
    std::int64_t total = 0;
    for (const auto r : rows) total += r;
    auto tensor = backend_.allocate(backend_.compute_dtype(), total, cols == 0 ? 1 : cols);
    std::int64_t first = 0;
    auto r = rows.begin();
    for (const char* part : parts) {
      auto shape = cols == 0 ? std::vector<std::int64_t>{*r} : std::vector<std::int64_t>{*r, cols};
      destinations_[prefix + part + suffix] = {tensor, first, std::move(shape)};
      first += *r++;
    }
    return tensor;
  }

  const ModelConfig& config_;
  Backend& backend_;
  std::map<std::string, Destination> destinations_;
};

}  // namespace

ModelWeights load_model_weights(const std::filesystem::path& folder, const ModelConfig& config, Backend& backend,
                                LoadFormat format) {
  if (!config.quantization_config.is_null())
    throw Error(fmt::format("{}: quantized checkpoints ({}) cannot be run by the engine yet", folder.string(),
                            config.quantization_config.value("quant_method", "unknown method")));
  if (format == LoadFormat::dummy) {
    WeightLoader loader(config, backend);
    auto weights = loader.plan();
    loader.fill_dummy();
    return weights;
  }
  const auto checkpoint = read_checkpoint(folder);
  if (checkpoint.format == CheckpointFormat::none)
    throw Error(fmt::format("{}: no weights found (model.safetensors, its index, or pytorch_model.bin)", folder.string()));
  WeightLoader loader(config, backend);
  auto weights = loader.plan();
  for (const auto& file : checkpoint.files) {
    const auto path = folder / file;
    const auto visit = [&](const std::string& name, const HostTensor& tensor) { loader.load(name, tensor, path.string()); };
    if (checkpoint.format == CheckpointFormat::safetensors)
      read_safetensors(path, visit);
    else
      read_pytorch_bin(path, visit);
  }
  loader.check_complete(folder);
  return weights;
}

}  // namespace llmctl::engine
