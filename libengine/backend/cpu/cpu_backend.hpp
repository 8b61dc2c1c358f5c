#pragma once

#include "backend/backend.hpp"

namespace llmctl::engine {

// The reference backend: every operation plainly in fp32 on host memory, spread over threads with
// OpenMP. Each output element is computed the same way whatever the batch around it, so a request gives
// bit-identical results alone or batched.
class CpuBackend final : public Backend {
 public:
  std::string_view name() const override { return "cpu"; }
  DType compute_dtype() const override { return DType::f32; }

  Tensor allocate(DType dtype, std::int64_t rows, std::int64_t cols) override;
  void upload(const Tensor& destination, std::int64_t first_row, const HostTensor& source) override;
  void download(const Tensor& source, std::span<float> destination) override;
  void fill_uniform(const Tensor& tensor, std::uint64_t seed, float low, float high) override;
  std::optional<MemoryInfo> memory_info() const override { return std::nullopt; }
  // Draws at once.
  void start_sampling(const Tensor& logits, std::span<const DeviceSample> rows,
                      std::span<const SampleAdjustment> adjustments) override;
  std::span<const DeviceSampled> finish_sampling() override;
  void download_rows(const Tensor& source, std::span<const std::int32_t> rows, std::span<float> destination) override;
  void reserve_steps(const StepLimits&, const HeadLayout&, std::int64_t) override {}
  void prepare_step(const StepBatch&) override {}
  void run_graph(std::int64_t, const std::function<void()>& enqueue) override { enqueue(); }
  void capture_graph(std::int64_t, const std::function<void()>&) override {}
  void set_profiling(bool on) override;
  std::vector<OperationTime> operation_times() const override { return {}; }

  void embed(const Tensor& table, const StepBatch& batch, const Tensor& out) override;
  void rms_norm(const Tensor& x, const Tensor& weight, float eps, const Tensor& out) override;
  void add_rms_norm(const Tensor& residual, const Tensor& x, const Tensor& weight, float eps,
                    const Tensor& out) override;
  void linear(const Tensor& x, const Tensor& weight, const Tensor& bias, const Tensor& out) override;
  void head_rms_norm(const Tensor& qkv, const HeadLayout& heads, const Tensor& q_weight, const Tensor& k_weight,
                     float eps) override;
  void attention(const Tensor& qkv, const HeadLayout& heads, const Tensor& cos_sin, const LayerKvCache& cache,
                 const StepBatch& batch, float scale, std::int64_t sliding_window, const Tensor& out) override;
  void linear_silu_mul(const Tensor& x, const Tensor& weight, const Tensor& bias, const Tensor& gate_up,
                       const Tensor& out) override;
  void gather_logit_rows(const Tensor& x, const StepBatch& batch, const Tensor& out) override;

 private:
  std::vector<DeviceSampled> draws_[2];  // draw i's results in draws_[i % 2]
  std::uint64_t draws_started_ = 0, draws_finished_ = 0;
};

// out = x · weightᵀ + bias in f32 (libengine/backend/cpu/cpu_linear.cpp).
void cpu_linear(const float* x, std::int64_t rows, std::int64_t in, const float* weight, std::int64_t out_features,
                const float* bias, float* out);

// One row's sampling as kernels/sampling.cu does it (libengine/backend/cpu/cpu_sampling.cpp): its bans
// and penalties applied in place, `pending` (a token id, or -1) counted once more in the output; then
// its draw (request.row is not read).
void cpu_adjust(std::span<float> logits, const Backend::DeviceSample& request,
                std::span<const Backend::SampleAdjustment> adjustments, std::int32_t pending);
Backend::DeviceSampled cpu_draw(std::span<const float> logits, const Backend::DeviceSample& request);

// Causal paged attention in f32 (libengine/backend/cpu/cpu_attention.cpp).
void cpu_attention(const Tensor& qkv, const HeadLayout& heads, const LayerKvCache& cache, const StepBatch& batch,
                   float scale, std::int64_t sliding_window, const Tensor& out);

}  // namespace llmctl::engine
