#pragma once

#include "backend/backend.hpp"
#include "model/model_config.hpp"

#include <filesystem>
#include <vector>

namespace llmctl::engine {

// The weights of one decoder layer in the backend's memory. q, k and v projections are fused into one
// matrix (rows: q, then k, then v), gate and up into another (gate, then up), so that each is one GEMM.
// Optional tensors are empty when the config has no such parameter.
struct LayerWeights {
  Tensor input_norm;
  Tensor qkv, qkv_bias;
  Tensor q_norm, k_norm;  // Qwen3
  Tensor o_proj, o_bias;
  Tensor post_attention_norm;
  Tensor gate_up, gate_up_bias;
  Tensor down, down_bias;
};

struct ModelWeights {
  Tensor embed_tokens;
  std::vector<LayerWeights> layers;
  Tensor final_norm;
  Tensor lm_head;  // shares embed_tokens' memory when the embeddings are tied
};

enum class LoadFormat {
  checkpoint,  // the weight files (vLLM's --load-format auto)
  dummy,       // random values from config.json alone, for benchmarks (vLLM's --load-format dummy)
};

// Reads every tensor of the checkpoint in `folder` (safetensors or PyTorch .bin, sharded or not), checks
// it against the shapes `config` implies and converts it into the backend's compute dtype. A missing,
// unexpected, duplicated or misshapen tensor, or a dtype that is not a float type, is an llmctl::Error
// naming the tensor and its file.
// With LoadFormat::dummy no weight file is read: every tensor is drawn from U(-1e-3, 1e-3), as vLLM does.
ModelWeights load_model_weights(const std::filesystem::path& folder, const ModelConfig& config, Backend& backend,
                                LoadFormat format = LoadFormat::checkpoint);

}  // namespace llmctl::engine
