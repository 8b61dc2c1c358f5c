#pragma once

#include "backend/backend.hpp"

#include <cuda_runtime_api.h>

#include <array>
#include <memory>
#include <vector>

namespace llmctl::kernels {
class Gemm;
}

namespace llmctl::engine {

// The GPU backend: tensors in device memory in bf16 (or fp16), the operations as CUDA kernels
// (kernels/) and cuBLASLt GEMMs, all on one stream. A step's metadata is copied to the device once, in
// prepare_step(); only download() waits for the GPU.
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
  bool samples_on_device() const override { return true; }
  void sample_on_device(const Tensor& logits, std::span<const DeviceSample> rows, std::span<DeviceSampled> out) override;
  void download_rows(const Tensor& source, std::span<const std::int32_t> rows, std::span<float> destination) override;
  void prepare_step(const StepBatch& batch) override;

  void embed(const Tensor& table, const StepBatch& batch, const Tensor& out) override;
  void rms_norm(const Tensor& x, const Tensor& weight, float eps, const Tensor& out) override;
  void add_rms_norm(const Tensor& residual, const Tensor& x, const Tensor& weight, float eps,
                    const Tensor& out) override;
  void linear(const Tensor& x, const Tensor& weight, const Tensor& bias, const Tensor& out) override;
  void head_rms_norm(const Tensor& qkv, const HeadLayout& heads, const Tensor& q_weight, const Tensor& k_weight,
                     float eps) override;
  void rotary(const Tensor& qkv, const HeadLayout& heads, const Tensor& cos_sin, const StepBatch& batch) override;
  void write_kv(const Tensor& qkv, const HeadLayout& heads, const LayerKvCache& cache,
                const StepBatch& batch) override;
  void attention(const Tensor& qkv, const HeadLayout& heads, const LayerKvCache& cache, const StepBatch& batch,
                 float scale, std::int64_t sliding_window, const Tensor& out) override;
  void silu_mul(const Tensor& gate_up, const Tensor& out) override;
  void gather_logit_rows(const Tensor& x, const StepBatch& batch, const Tensor& out) override;

 private:
  // A device copy of one step's host vector, grown when a step needs more room.
  struct DeviceArray {
    void* data = nullptr;
    std::size_t capacity = 0;
  };
  void* reserve(DeviceArray& array, std::size_t bytes);  // grows the array when a step needs more room
  template <typename T>
  const T* copy_to_device(DeviceArray& array, const std::vector<T>& values);

  DType compute_dtype_;
  cudaStream_t stream_ = nullptr;
  std::unique_ptr<kernels::Gemm> gemm_;
  DeviceArray token_ids_, positions_, slots_, token_sequence_, context_lens_, block_tables_, logit_rows_;
  DeviceArray sample_requests_, sample_results_, single_rows_, prefill_work_array_;
  std::vector<std::int32_t> token_sequence_host_;
  // Tokens of one-token sequences (decodes); prefill chunks (sequence, first row, tokens); and the
  // chunks' attention work, made once per step: tensor-core tiles (kernels::PrefillTile, 4 ints each),
  // or, where that kernel lacks the head dim, the chunks' token rows.
  std::vector<std::int32_t> single_rows_host_;
  std::vector<std::array<std::int32_t, 3>> prefill_chunks_;
  std::vector<std::int32_t> prefill_work_;
  bool prefill_work_ready_ = false;
  std::vector<DeviceSample> sample_staging_;
  std::vector<std::byte> staging_;  // host-side conversion of uploads
  struct StepPointers;
  std::unique_ptr<StepPointers> step_;
};

}  // namespace llmctl::engine
