#include "backend/cpu/cpu_backend.hpp"

#include "common/error.hpp"
#include "weights/dtype_convert.hpp"

#include <fmt/format.h>

#include <cmath>
#include <cstdlib>
#include <cstring>
#include <new>

namespace llmctl::engine {
namespace {

float inverse_rms(const float* x, std::int64_t n, float eps) {
  float sum = 0.0f;
  for (std::int64_t i = 0; i < n; ++i) sum += x[i] * x[i];
  return 1.0f / std::sqrt(sum / static_cast<float>(n) + eps);
}

void normalize_row(const float* x, const float* weight, std::int64_t n, float eps, float* out) {
  const float scale = inverse_rms(x, n, eps);
  for (std::int64_t i = 0; i < n; ++i) out[i] = weight[i] * (x[i] * scale);
}

void rotate_head(float* head, std::int64_t dim, const float* cos_sin) {
  const std::int64_t half = dim / 2;
  const float* cos = cos_sin;
  const float* sin = cos_sin + half;
  for (std::int64_t i = 0; i < half; ++i) {
    const float x1 = head[i];
    const float x2 = head[i + half];
    head[i] = x1 * cos[i] - x2 * sin[i];
    head[i + half] = x2 * cos[i] + x1 * sin[i];
  }
}

}  // namespace

Tensor CpuBackend::allocate(DType dtype, std::int64_t rows, std::int64_t cols) {
  Tensor tensor{{}, nullptr, dtype, rows, cols};
  // calloc leaves large zeroed allocations to the kernel's lazily mapped pages: an unused KV pool costs
  // no memory.
  void* memory = std::calloc(std::max<std::size_t>(tensor.bytes(), 1), 1);
  if (!memory) throw Error(fmt::format("out of host memory allocating {} bytes", tensor.bytes()));
  tensor.storage = std::shared_ptr<std::byte>(static_cast<std::byte*>(memory), [](std::byte* p) { std::free(p); });
  tensor.data = tensor.storage.get();
  return tensor;
}

void CpuBackend::upload(const Tensor& destination, std::int64_t first_row, const HostTensor& source) {
  const std::size_t elements = upload_elements(destination, first_row, source);
  convert_elements(source.dtype, source.data.data(), destination.dtype,
                   destination.data + static_cast<std::size_t>(first_row) * destination.row_bytes(), elements);
}

void CpuBackend::set_profiling(bool on) {
  if (on) throw Error("per-operation profiling needs the CUDA backend (--device cuda)");
}

void CpuBackend::fill_uniform(const Tensor& tensor, std::uint64_t seed, float low, float high) {
  float* data = tensor.as<float>();
#pragma omp parallel for schedule(static)
  for (std::int64_t i = 0; i < tensor.elements(); ++i) data[i] = uniform_at(seed, static_cast<std::uint64_t>(i), low, high);
}

void CpuBackend::download(const Tensor& source, std::span<float> destination) {
  std::memcpy(destination.data(), source.data, std::min(destination.size_bytes(), source.bytes()));
}

void CpuBackend::download_rows(const Tensor& source, std::span<const std::int32_t> rows, std::span<float> destination) {
  for (std::size_t i = 0; i < rows.size(); ++i)
    std::memcpy(destination.data() + i * static_cast<std::size_t>(source.cols),
                source.data + static_cast<std::size_t>(rows[i]) * source.row_bytes(), source.row_bytes());
}

void CpuBackend::embed(const Tensor& table, const StepBatch& batch, const Tensor& out) {
  const auto& drawn = draws_[(draws_started_ + 1) % 2];  // the latest draw's
  for (std::int64_t t = 0; t < batch.num_tokens(); ++t) {
    auto id = batch.token_ids[static_cast<std::size_t>(t)];
    if (id < 0 && static_cast<std::size_t>(-(id + 1)) < drawn.size()) id = drawn[static_cast<std::size_t>(-(id + 1))].token;
    if (id < 0 || id >= table.rows)
      throw Error(fmt::format("token id {} is outside the model's vocabulary of {}", id, table.rows));
    std::memcpy(out.data + t * out.row_bytes(), table.data + id * table.row_bytes(), table.row_bytes());
  }
}

void CpuBackend::rms_norm(const Tensor& x, const Tensor& weight, float eps, const Tensor& out) {
#pragma omp parallel for schedule(static)
  for (std::int64_t r = 0; r < x.rows; ++r)
    normalize_row(x.as<float>() + r * x.cols, weight.as<float>(), x.cols, eps, out.as<float>() + r * out.cols);
}

void CpuBackend::add_rms_norm(const Tensor& residual, const Tensor& x, const Tensor& weight, float eps,
                              const Tensor& out) {
#pragma omp parallel for schedule(static)
  for (std::int64_t r = 0; r < x.rows; ++r) {
    float* res = residual.as<float>() + r * residual.cols;
    const float* in = x.as<float>() + r * x.cols;
    for (std::int64_t i = 0; i < x.cols; ++i) res[i] += in[i];
    normalize_row(res, weight.as<float>(), x.cols, eps, out.as<float>() + r * out.cols);
  }
}

void CpuBackend::linear(const Tensor& x, const Tensor& weight, const Tensor& bias, const Tensor& out) {
  cpu_linear(x.as<float>(), x.rows, x.cols, weight.as<float>(), weight.rows, bias ? bias.as<float>() : nullptr,
             out.as<float>());
}

void CpuBackend::head_rms_norm(const Tensor& qkv, const HeadLayout& heads, const Tensor& q_weight,
                               const Tensor& k_weight, float eps) {
  const std::int64_t dim = heads.head_dim;
#pragma omp parallel for schedule(static)
  for (std::int64_t r = 0; r < qkv.rows; ++r) {
    float* row = qkv.as<float>() + r * qkv.cols;
    for (std::int64_t h = 0; h < heads.q_heads + heads.kv_heads; ++h) {
      float* head = row + h * dim;
      normalize_row(head, (h < heads.q_heads ? q_weight : k_weight).as<float>(), dim, eps, head);
    }
  }
}

void CpuBackend::attention(const Tensor& qkv, const HeadLayout& heads, const Tensor& cos_sin, const LayerKvCache& cache,
                           const StepBatch& batch, float scale, std::int64_t sliding_window, const Tensor& out) {
  const std::size_t width = static_cast<std::size_t>(heads.kv_width()) * sizeof(float);
#pragma omp parallel for schedule(static)
  for (std::int64_t t = 0; t < qkv.rows; ++t) {
    const std::int64_t position = batch.positions[static_cast<std::size_t>(t)];
    const float* angles = cos_sin.as<float>() + position * cos_sin.cols;
    float* row = qkv.as<float>() + t * qkv.cols;
    for (std::int64_t h = 0; h < heads.q_heads + heads.kv_heads; ++h) rotate_head(row + h * heads.head_dim, heads.head_dim, angles);
    const auto slot = batch.slot_mapping[static_cast<std::size_t>(t)];
    if (slot < 0) continue;
    std::memcpy(cache.keys.data + slot * cache.keys.row_bytes(), row + heads.q_width(), width);
    std::memcpy(cache.values.data + slot * cache.values.row_bytes(), row + heads.q_width() + heads.kv_width(), width);
  }
  cpu_attention(qkv, heads, cache, batch, scale, sliding_window, out);
}

void CpuBackend::linear_silu_mul(const Tensor& x, const Tensor& weight, const Tensor& bias, const Tensor& gate_up,
                                 const Tensor& out) {
  linear(x, weight, bias, gate_up);
  const std::int64_t width = out.cols;
#pragma omp parallel for schedule(static)
  for (std::int64_t r = 0; r < gate_up.rows; ++r) {
    const float* gate = gate_up.as<float>() + r * gate_up.cols;
    const float* up = gate + width;
    float* o = out.as<float>() + r * width;
    for (std::int64_t i = 0; i < width; ++i) o[i] = gate[i] / (1.0f + std::exp(-gate[i])) * up[i];
  }
}

void CpuBackend::gather_logit_rows(const Tensor& x, const StepBatch& batch, const Tensor& out) {
  const auto& rows = batch.logit_rows;
  for (std::size_t i = 0; i < rows.size(); ++i)
    std::memcpy(out.data + i * out.row_bytes(), x.data + static_cast<std::size_t>(rows[i]) * x.row_bytes(), x.row_bytes());
}

}  // namespace llmctl::engine
