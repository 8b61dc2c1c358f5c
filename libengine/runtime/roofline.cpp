#include "runtime/roofline.hpp"

#include "model/weight_layout.hpp"

#include <algorithm>

namespace llmctl::engine {

Roofline roofline(const ModelConfig& config, const Workload& w, const DeviceCeilings& ceilings) {
  const double params = static_cast<double>(parameter_count(config));
  // The embedding table is gathered, not multiplied: it costs neither FLOPs nor a full read per step.
  const double embedding = static_cast<double>(config.vocab_size * config.hidden_size);
  const double matmul_params = params - (config.tie_word_embeddings ? 0.0 : embedding);
  const double weight_bytes = (params - (config.tie_word_embeddings ? 0.0 : embedding)) * w.weight_bytes;
  const double layers = static_cast<double>(config.num_layers);
  const double q_width = static_cast<double>(config.num_attention_heads * config.head_dim);
  const double kv_per_token = 2.0 * layers * static_cast<double>(config.num_kv_heads * config.head_dim) * w.kv_bytes;

  // Prefill: 2 FLOPs per weight and token; causal attention: QKᵀ and PV over i keys for token i.
  const double n = static_cast<double>(w.input_len);
  const double prefill_tokens = static_cast<double>(w.requests) * n;
  const double attention_prefill = static_cast<double>(w.requests) * layers * 4.0 * q_width * n * (n + 1) / 2.0;
  Roofline r{};
  r.prefill_flops = 2.0 * matmul_params * prefill_tokens + attention_prefill;
  r.prefill_seconds = r.prefill_flops / ceilings.gemm_flops_per_second;

  // Decode, in waves of at most max_num_seqs sequences: each step reads the weights once and every
  // running sequence's cache.
  for (std::int64_t done = 0; done < w.requests; done += w.max_num_seqs) {
    const double batch = static_cast<double>(std::min(w.max_num_seqs, w.requests - done));
    for (std::int64_t step = 0; step < w.output_len; ++step) {
      const double context = n + static_cast<double>(step);
      const double bytes = weight_bytes + batch * context * kv_per_token;
      const double flops = batch * (2.0 * matmul_params + layers * 4.0 * q_width * context);
      r.decode_bytes += bytes;
      r.decode_seconds += std::max(bytes / ceilings.copy_bytes_per_second, flops / ceilings.gemm_flops_per_second);
    }
  }
  return r;
}

}  // namespace llmctl::engine
