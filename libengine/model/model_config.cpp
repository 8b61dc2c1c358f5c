#include "model/model_config.hpp"

#include "common/error.hpp"
#include "common/json_file.hpp"

#include <fmt/format.h>

#include <array>
#include <utility>

namespace llmctl::engine {
namespace {

constexpr std::array<std::pair<std::string_view, ModelFamily>, 4> kArchitectures{{
    {"LlamaForCausalLM", ModelFamily::llama},
    {"MistralForCausalLM", ModelFamily::mistral},
    {"Qwen2ForCausalLM", ModelFamily::qwen2},
    {"Qwen3ForCausalLM", ModelFamily::qwen3},
}};

std::string architecture_name(const JsonFields& fields) {
  const auto* list = fields.find("architectures");
  if (list == nullptr) fields.fail("architectures", "a list with the model class, such as [\"LlamaForCausalLM\"]");
  if (!list->is_array() || list->empty() || !(*list)[0].is_string())
    fields.fail("architectures", "a list with the model class, such as [\"LlamaForCausalLM\"]");
  return (*list)[0].get<std::string>();
}

}  // namespace

RopeScaling parse_rope_scaling(const nlohmann::json& rope, std::string_view origin) {
  const JsonFields fields(rope, std::string(origin));
  RopeScaling scaling;
  // "type" is the older key, "rope_type" the newer; transformers 5 also writes "default".
  scaling.type = fields.string("rope_type", fields.string("type", "default"));
  if (scaling.type == "default") return scaling;
  if (scaling.type != "linear" && scaling.type != "dynamic" && scaling.type != "llama3" && scaling.type != "yarn")
    throw Error(fmt::format("{}: rope scaling type '{}' is not supported (supported: linear, dynamic, llama3, yarn)",
                            origin, scaling.type));
  scaling.factor = fields.number("factor", 0.0);
  if (!(scaling.factor >= 1.0)) fields.fail("factor", "a number >= 1");
  scaling.low_freq_factor = fields.number("low_freq_factor", scaling.low_freq_factor);
  scaling.high_freq_factor = fields.number("high_freq_factor", scaling.high_freq_factor);
  scaling.original_max_position_embeddings = fields.optional_positive_int("original_max_position_embeddings");
  scaling.beta_fast = fields.number("beta_fast", scaling.beta_fast);
  scaling.beta_slow = fields.number("beta_slow", scaling.beta_slow);
  if (fields.has("attention_factor")) scaling.attention_factor = fields.number("attention_factor", 1.0);
  if (scaling.type == "llama3") {
    if (!scaling.original_max_position_embeddings)
      fields.fail("original_max_position_embeddings", "a positive integer for llama3 rope scaling");
    if (!(scaling.high_freq_factor > scaling.low_freq_factor))
      fields.fail("high_freq_factor", "greater than low_freq_factor");
  }
  return scaling;
}

std::string supported_architectures() {
  std::string names;
  for (const auto& [name, family] : kArchitectures) names += (names.empty() ? "" : ", ") + std::string(name);
  return names;
}

std::int64_t ModelConfig::derived_max_model_len() const {
  const auto& rope = rope_scaling;
  if (rope.type == "linear" || rope.type == "dynamic")
    return static_cast<std::int64_t>(static_cast<double>(max_position_embeddings) * rope.factor);
  if (rope.type == "yarn")
    return static_cast<std::int64_t>(
        static_cast<double>(rope.original_max_position_embeddings.value_or(max_position_embeddings)) * rope.factor);
  return max_position_embeddings;
}

ModelConfig parse_model_config(const nlohmann::json& json, std::string_view origin) {
  const JsonFields fields(json, std::string(origin));
  ModelConfig config;
  config.architecture = architecture_name(fields);
  bool known = false;
  for (const auto& [name, family] : kArchitectures) {
    if (name == config.architecture) {
      config.family = family;
      known = true;
    }
  }
  if (!known)
    throw Error(fmt::format("{}: architecture '{}' is not supported (supported: {})", origin, config.architecture,
                            supported_architectures()));
  config.model_type = fields.string("model_type", "");

  config.hidden_size = fields.positive_int("hidden_size");
  config.intermediate_size = fields.positive_int("intermediate_size");
  config.num_layers = fields.positive_int("num_hidden_layers");
  config.num_attention_heads = fields.positive_int("num_attention_heads");
  config.num_kv_heads = fields.optional_positive_int("num_key_value_heads").value_or(config.num_attention_heads);
  config.vocab_size = fields.positive_int("vocab_size");
  config.max_position_embeddings = fields.positive_int("max_position_embeddings");
  if (auto head_dim = fields.optional_positive_int("head_dim")) {
    config.head_dim = *head_dim;
  } else {
    if (config.hidden_size % config.num_attention_heads != 0)
      throw Error(fmt::format("{}: hidden_size {} is not a multiple of num_attention_heads {} and no head_dim is given",
                              origin, config.hidden_size, config.num_attention_heads));
    config.head_dim = config.hidden_size / config.num_attention_heads;
  }
  if (config.num_attention_heads % config.num_kv_heads != 0)
    throw Error(fmt::format("{}: num_attention_heads {} is not a multiple of num_key_value_heads {}", origin,
                            config.num_attention_heads, config.num_kv_heads));

  config.rms_norm_eps = fields.number("rms_norm_eps", 1e-6);
  // transformers 5 keeps theta and scaling together in "rope_parameters"; older files use two keys.
  if (const auto* params = fields.find("rope_parameters")) {
    const std::string rope_origin = fmt::format("{}: rope_parameters", origin);
    config.rope_scaling = parse_rope_scaling(*params, rope_origin);
    config.rope_theta = JsonFields(*params, rope_origin).number("rope_theta", fields.number("rope_theta", 10000.0));
  } else {
    config.rope_theta = fields.number("rope_theta", 10000.0);
    if (const auto* rope = fields.find("rope_scaling"))
      config.rope_scaling = parse_rope_scaling(*rope, fmt::format("{}: rope_scaling", origin));
  }
  if (!(config.rope_theta > 0)) fields.fail("rope_theta", "a positive number");

  config.tie_word_embeddings = fields.boolean("tie_word_embeddings", false);
  const bool attention_bias = fields.boolean("attention_bias", false);
  config.qkv_bias = config.family == ModelFamily::qwen2 || attention_bias;
  config.o_bias = config.family != ModelFamily::qwen2 && attention_bias;
  config.mlp_bias = config.family == ModelFamily::llama && fields.boolean("mlp_bias", false);
  config.qk_norm = config.family == ModelFamily::qwen3;

  // Qwen2/Qwen3 apply their window only with use_sliding_window, from layer max_window_layers on;
  // Mistral applies sliding_window (null in v0.3) to every layer.
  if (config.family == ModelFamily::mistral) {
    config.sliding_window = fields.optional_positive_int("sliding_window");
  } else if ((config.family == ModelFamily::qwen2 || config.family == ModelFamily::qwen3) &&
             fields.boolean("use_sliding_window", false)) {
    config.sliding_window = fields.optional_positive_int("sliding_window");
    config.sliding_window_first_layer = fields.optional_positive_int("max_window_layers").value_or(0);
  }

  for (const char* key : {"torch_dtype", "dtype"}) {
    if (!fields.has(key)) continue;
    const std::string name = fields.string(key, "");
    config.dtype = dtype_from_torch_name(name);
    if (!config.dtype) fields.fail(key, "bfloat16, float16 or float32");
  }
  if (auto bos = fields.int_or_int_list("bos_token_id"); !bos.empty()) config.bos_token_id = bos.front();
  config.eos_token_ids = fields.int_or_int_list("eos_token_id");
  if (const auto* quantization = fields.find("quantization_config")) {
    if (!quantization->is_object()) fields.fail("quantization_config", "an object");
    config.quantization_config = *quantization;
  }
  return config;
}

ModelConfig load_model_config(const std::filesystem::path& folder) {
  const auto path = folder / "config.json";
  return parse_model_config(read_json_file(path), path.string());
}

}  // namespace llmctl::engine
