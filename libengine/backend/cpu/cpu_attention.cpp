#include "backend/cpu/cpu_backend.hpp"

#include <algorithm>
#include <cmath>
#include <limits>
#include <vector>

namespace llmctl::engine {

void cpu_attention(const Tensor& qkv, const HeadLayout& heads, const LayerKvCache& cache, const StepBatch& batch,
                   float scale, std::int64_t sliding_window, const Tensor& out) {
  const std::int64_t dim = heads.head_dim;
  const std::int64_t group = heads.q_heads / heads.kv_heads;  // q heads sharing one kv head
  const std::int64_t kv_width = heads.kv_width();
  const std::int64_t tokens = batch.num_tokens();
  std::vector<std::int32_t> sequence_of(static_cast<std::size_t>(tokens));
  for (std::int64_t s = 0; s < batch.num_sequences(); ++s)
    std::fill(sequence_of.begin() + batch.query_start[s], sequence_of.begin() + batch.query_start[s + 1],
              static_cast<std::int32_t>(s));

#pragma omp parallel
  {
    std::vector<float> scores;
    std::vector<float> accumulator(static_cast<std::size_t>(dim));
#pragma omp for collapse(2) schedule(dynamic, 4)
    for (std::int64_t t = 0; t < tokens; ++t)
      for (std::int64_t h = 0; h < heads.q_heads; ++h) {
        const std::int32_t s = sequence_of[t];
        const std::int32_t* table = batch.block_table(s);
        const std::int64_t position = batch.positions[t];
        const std::int64_t first = sliding_window > 0 ? std::max<std::int64_t>(0, position - sliding_window + 1) : 0;
        const float* q = qkv.as<float>() + t * qkv.cols + h * dim;
        const std::int64_t kv_offset = (h / group) * dim;
        scores.resize(static_cast<std::size_t>(position - first + 1));
        float max_score = -std::numeric_limits<float>::infinity();
        for (std::int64_t j = first; j <= position; ++j) {
          const std::int64_t slot = static_cast<std::int64_t>(table[j / batch.block_size]) * batch.block_size +
                                    j % batch.block_size;
          const float* k = cache.keys.as<float>() + slot * kv_width + kv_offset;
          float dot = 0.0f;
          for (std::int64_t d = 0; d < dim; ++d) dot += q[d] * k[d];
          const float score = dot * scale;
          scores[static_cast<std::size_t>(j - first)] = score;
          max_score = std::max(max_score, score);
        }
        float total = 0.0f;
        for (float& score : scores) total += (score = std::exp(score - max_score));
        std::fill(accumulator.begin(), accumulator.end(), 0.0f);
        for (std::int64_t j = first; j <= position; ++j) {
          const std::int64_t slot = static_cast<std::int64_t>(table[j / batch.block_size]) * batch.block_size +
                                    j % batch.block_size;
          const float* v = cache.values.as<float>() + slot * kv_width + kv_offset;
          const float weight = scores[static_cast<std::size_t>(j - first)];
          for (std::int64_t d = 0; d < dim; ++d) accumulator[static_cast<std::size_t>(d)] += weight * v[d];
        }
        float* o = out.as<float>() + t * out.cols + h * dim;
        for (std::int64_t d = 0; d < dim; ++d) o[d] = accumulator[static_cast<std::size_t>(d)] / total;
      }
  }
}

}  // namespace llmctl::engine
