#pragma once

#include "backend/backend.hpp"
#include "backend/cuda/kernel_timer.hpp"
#include "backend/cuda/step_metadata.hpp"

#include <cuda_runtime_api.h>

#include <memory>
#include <string>
#include <unordered_map>
#include <vector>

namespace llmctl::kernels {
class Gemm;
struct SampleResult;
}

namespace llmctl::engine {

// The GPU backend: tensors in device memory in bf16 (or fp16), the operations as CUDA kernels
// (kernels/) and cuBLASLt GEMMs, all on one stream. A step's metadata is copied to the device once, in
// prepare_step(); decode steps replay CUDA graphs (run_graph); only downloads and finish_sampling()
// wait for the GPU.
class CudaBackend final : public Backend {
 public:
  explicit CudaBackend(DType compute_dtype);
  ~CudaBackend() override;

  std::string_view name() const override { return "cuda"; }
  DType compute_dtype() const override { return compute_dtype_; }

  Tensor allocate(DType dtype, std::int64_t rows, std::int64_t cols) override;
  void upload(const Tensor& destination, std::int64_t first_row, const HostTensor& source) override;
  void download(const Tensor& source, std::span<float> destination) override;
  void fill_uniform(const Tensor& tensor, std::uint64_t seed, float low, float high) override;
  std::optional<MemoryInfo> memory_info() const override;
  void start_sampling(const Tensor& logits, std::span<const DeviceSample> rows,
                      std::span<const SampleAdjustment> adjustments) override;
  std::span<const DeviceSampled> finish_sampling() override;
  void download_rows(const Tensor& source, std::span<const std::int32_t> rows, std::span<float> destination) override;
  void reserve_steps(const StepLimits& limits, const HeadLayout& heads, std::int64_t vocab_size) override;
  void prepare_step(const StepBatch& batch) override;
  void run_graph(std::int64_t key, const std::function<void()>& enqueue) override;
  void capture_graph(std::int64_t key, const std::function<void()>& enqueue) override;
  void set_profiling(bool on) override { timer_.set(on); }
  std::vector<OperationTime> operation_times() const override { return timer_.totals(); }

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
  void add_rms_norm_linear(const Tensor& residual, const Tensor& x, const Tensor& norm_weight, float eps,
                           const Tensor& normed, const Tensor& weight, const Tensor& bias, const Tensor& out) override;
  void add_rms_norm_linear_silu_mul(const Tensor& residual, const Tensor& x, const Tensor& norm_weight, float eps,
                                    const Tensor& normed, const Tensor& weight, const Tensor& bias, const Tensor& gate_up,
                                    const Tensor& out) override;
  void gather_logit_rows(const Tensor& x, const StepBatch& batch, const Tensor& out) override;

 private:
  // Runs a kernel launch, timed under `name` while profiling; launch errors become llmctl::Error.
  template <typename F>
  void run(const std::string& name, F&& launch);
  void synchronize(std::string_view what);  // waits for the stream, then reads the timings
  // One draw's requests, results and adjustments, laid out alike in each pinned half and on the device.
  std::size_t draw_bytes() const;
  std::byte* host_draw(int draw) const;
  DeviceSample* requests_in(std::byte* draw) const;
  SampleAdjustment* adjustments_in(std::byte* draw) const;
  DeviceSampled* results_in(std::byte* draw) const;

  DType compute_dtype_;
  cudaStream_t stream_ = nullptr;
  std::unique_ptr<kernels::Gemm> gemm_;
  StepMetadata step_;
  std::unordered_map<std::int64_t, cudaGraphExec_t> graphs_;
  KernelTimer timer_;
  // Rows to sample on the device, their adjustments and results: pinned host memory for two draws, and
  // the device's one draw followed by the sampling kernels' workspace.
  std::byte* sample_host_ = nullptr;
  std::byte* sample_device_ = nullptr;
  std::size_t sample_capacity_ = 0, adjustment_capacity_ = 0;
  std::uint64_t draws_started_ = 0, draws_finished_ = 0;  // draw i uses pinned half i % 2
  std::size_t draw_rows_[2] = {};
  cudaEvent_t drawn_[2] = {};  // recorded once a draw's results are in pinned memory
  void* attention_workspace_ = nullptr;  // decode attention's split contexts
  std::vector<std::byte> staging_;  // host-side conversion of uploads
};

}  // namespace llmctl::engine
