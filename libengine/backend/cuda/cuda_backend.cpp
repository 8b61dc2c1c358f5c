#include "backend/cuda/cuda_backend.hpp"

#include "common/error.hpp"
#include "gemm.hpp"
#include "kernels.hpp"
#include "weights/dtype_convert.hpp"

#include <fmt/format.h>

#include <algorithm>
#include <cstring>

namespace llmctl::engine {
namespace {

void check(cudaError_t error, std::string_view what) {
  if (error != cudaSuccess) throw Error(fmt::format("CUDA error in {}: {}", what, cudaGetErrorString(error)));
}

kernels::Element element(DType dtype) { return dtype == DType::f16 ? kernels::Element::f16 : kernels::Element::bf16; }

kernels::Heads heads_of(const HeadLayout& h) {
  return {static_cast<int>(h.q_heads), static_cast<int>(h.kv_heads), static_cast<int>(h.head_dim)};
}

// Kernel launch errors come as std::runtime_error from kernels/; the engine reports llmctl::Error.
template <typename F>
void run(F&& launch) {
  try {
    launch();
  } catch (const std::runtime_error& e) {
    throw Error(fmt::format("CUDA kernel failed: {}", e.what()));
  }
}

constexpr std::size_t kGemmWorkspace = 32ull << 20;

}  // namespace

struct CudaBackend::StepPointers {
  kernels::StepView view{};
  const std::int32_t* single_rows = nullptr;
  const std::int32_t* prefill_work = nullptr;  // prefill_work_ on the device
};

CudaBackend::CudaBackend(DType compute_dtype) : compute_dtype_(compute_dtype), step_(std::make_unique<StepPointers>()) {
  if (compute_dtype != DType::bf16 && compute_dtype != DType::f16)
    throw Error(fmt::format("the CUDA backend computes in bf16 or fp16, not {}", engine::name(compute_dtype)));
  int count = 0;
  if (cudaGetDeviceCount(&count) != cudaSuccess || count == 0) {
    cudaGetLastError();
    throw Error("--device cuda: no CUDA GPU is visible (driver missing or no device)");
  }
  check(cudaStreamCreateWithFlags(&stream_, cudaStreamNonBlocking), "cudaStreamCreate");
  run([&] { gemm_ = std::make_unique<kernels::Gemm>(kGemmWorkspace); });
}

CudaBackend::~CudaBackend() {
  gemm_.reset();
  for (auto* array : {&token_ids_, &positions_, &slots_, &token_sequence_, &context_lens_, &block_tables_, &logit_rows_,
                      &sample_requests_, &sample_results_, &single_rows_, &prefill_work_array_})
    if (array->data) cudaFree(array->data);
  if (stream_) cudaStreamDestroy(stream_);
}

Tensor CudaBackend::allocate(DType dtype, std::int64_t rows, std::int64_t cols) {
  Tensor tensor{{}, nullptr, dtype, rows, cols};
  void* memory = nullptr;
  const std::size_t bytes = std::max<std::size_t>(tensor.bytes(), 1);
  if (const auto error = cudaMalloc(&memory, bytes); error != cudaSuccess)
    throw Error(fmt::format("out of GPU memory allocating {} bytes ({})", bytes, cudaGetErrorString(error)));
  check(cudaMemset(memory, 0, bytes), "cudaMemset");
  tensor.storage = std::shared_ptr<std::byte>(static_cast<std::byte*>(memory), [](std::byte* p) { cudaFree(p); });
  tensor.data = tensor.storage.get();
  return tensor;
}

void CudaBackend::upload(const Tensor& destination, std::int64_t first_row, const HostTensor& source) {
  const std::size_t elements = upload_elements(destination, first_row, source);
  staging_.resize(elements * bits(destination.dtype) / 8);
  convert_elements(source.dtype, source.data.data(), destination.dtype, staging_.data(), elements);
  check(cudaMemcpy(destination.data + static_cast<std::size_t>(first_row) * destination.row_bytes(), staging_.data(),
                   staging_.size(), cudaMemcpyHostToDevice),
        "upload");
}

void CudaBackend::download(const Tensor& source, std::span<float> destination) {
  check(cudaMemcpyAsync(destination.data(), source.data, std::min(destination.size_bytes(), source.bytes()),
                        cudaMemcpyDeviceToHost, stream_),
        "download");
  check(cudaStreamSynchronize(stream_), "the step");
}

void CudaBackend::fill_uniform(const Tensor& tensor, std::uint64_t seed, float low, float high) {
  run([&] { kernels::fill_uniform(element(tensor.dtype), tensor.data, tensor.elements(), seed, low, high, stream_); });
  check(cudaStreamSynchronize(stream_), "fill_uniform");
}

std::optional<Backend::MemoryInfo> CudaBackend::memory_info() const {
  std::size_t free_bytes = 0, total_bytes = 0;
  check(cudaMemGetInfo(&free_bytes, &total_bytes), "cudaMemGetInfo");
  return MemoryInfo{free_bytes, total_bytes};
}

void CudaBackend::sample_on_device(const Tensor& logits, std::span<const DeviceSample> rows,
                                   std::span<DeviceSampled> out) {
  if (rows.empty()) return;
  static_assert(sizeof(DeviceSample) == sizeof(kernels::SampleRequest) && sizeof(DeviceSampled) == sizeof(kernels::SampleResult));
  sample_staging_.assign(rows.begin(), rows.end());
  const auto* device_requests = reinterpret_cast<const kernels::SampleRequest*>(copy_to_device(sample_requests_, sample_staging_));
  auto* device_results = static_cast<kernels::SampleResult*>(reserve(sample_results_, rows.size() * sizeof(DeviceSampled)));
  run([&] {
    kernels::sample_rows(logits.as<const float>(), logits.cols, device_requests, static_cast<std::int64_t>(rows.size()),
                         device_results, stream_);
  });
  check(cudaMemcpyAsync(out.data(), device_results, rows.size() * sizeof(DeviceSampled), cudaMemcpyDeviceToHost, stream_),
        "sampled tokens");
  check(cudaStreamSynchronize(stream_), "sampling");
}

void CudaBackend::download_rows(const Tensor& source, std::span<const std::int32_t> rows, std::span<float> destination) {
  for (std::size_t i = 0; i < rows.size(); ++i)
    check(cudaMemcpyAsync(destination.data() + i * static_cast<std::size_t>(source.cols),
                          source.data + static_cast<std::size_t>(rows[i]) * source.row_bytes(), source.row_bytes(),
                          cudaMemcpyDeviceToHost, stream_),
          "download");
  check(cudaStreamSynchronize(stream_), "the step");
}

void* CudaBackend::reserve(DeviceArray& array, std::size_t bytes) {
  bytes = std::max<std::size_t>(bytes, 1);
  if (bytes > array.capacity) {
    check(cudaStreamSynchronize(stream_), "the step");  // the old array may still be read
    if (array.data) cudaFree(array.data);
    array.data = nullptr;
    array.capacity = std::max(bytes, 2 * array.capacity);
    check(cudaMalloc(&array.data, array.capacity), "cudaMalloc (step metadata)");
  }
  return array.data;
}

template <typename T>
const T* CudaBackend::copy_to_device(DeviceArray& array, const std::vector<T>& values) {
  void* data = reserve(array, values.size() * sizeof(T));
  check(cudaMemcpyAsync(data, values.data(), values.size() * sizeof(T), cudaMemcpyHostToDevice, stream_), "step metadata");
  return static_cast<const T*>(data);
}

void CudaBackend::prepare_step(const StepBatch& batch) {
  // The copies are asynchronous from pageable memory: the host vectors must not change before they are
  // done, so the previous step's copies are waited for first.
  check(cudaStreamSynchronize(stream_), "the previous step");
  token_sequence_host_.assign(static_cast<std::size_t>(batch.num_tokens()), 0);
  for (std::int64_t s = 0; s < batch.num_sequences(); ++s)
    std::fill(token_sequence_host_.begin() + batch.query_start[s], token_sequence_host_.begin() + batch.query_start[s + 1],
              static_cast<std::int32_t>(s));
  single_rows_host_.clear();
  prefill_chunks_.clear();
  for (std::int64_t s = 0; s < batch.num_sequences(); ++s) {
    const std::int32_t begin = batch.query_start[s], end = batch.query_start[s + 1];
    if (end - begin == 1) {
      single_rows_host_.push_back(begin);
      continue;
    }
    prefill_chunks_.push_back({static_cast<std::int32_t>(s), begin, end - begin});
  }
  step_->single_rows = copy_to_device(single_rows_, single_rows_host_);
  prefill_work_ready_ = false;  // cut at the first attention of the step, which knows the heads
  auto& view = step_->view;
  view.token_ids = copy_to_device(token_ids_, batch.token_ids);
  view.positions = copy_to_device(positions_, batch.positions);
  view.slot_mapping = copy_to_device(slots_, batch.slot_mapping);
  view.token_sequence = copy_to_device(token_sequence_, token_sequence_host_);
  view.context_lens = copy_to_device(context_lens_, batch.context_lens);
  view.block_tables = copy_to_device(block_tables_, batch.block_tables);
  copy_to_device(logit_rows_, batch.logit_rows);
  view.max_blocks_per_seq = batch.max_blocks_per_seq;
  view.block_size = batch.block_size;
  view.num_tokens = static_cast<std::int32_t>(batch.num_tokens());
}

void CudaBackend::embed(const Tensor& table, const StepBatch&, const Tensor& out) {
  run([&] { kernels::embed(element(table.dtype), table.data, table.cols, step_->view, out.data, stream_); });
}

void CudaBackend::rms_norm(const Tensor& x, const Tensor& weight, float eps, const Tensor& out) {
  run([&] { kernels::rms_norm(element(x.dtype), x.data, weight.data, eps, x.rows, x.cols, out.data, stream_); });
}

void CudaBackend::add_rms_norm(const Tensor& residual, const Tensor& x, const Tensor& weight, float eps,
                               const Tensor& out) {
  run([&] {
    kernels::add_rms_norm(element(x.dtype), residual.data, x.data, weight.data, eps, x.rows, x.cols, out.data, stream_);
  });
}

void CudaBackend::linear(const Tensor& x, const Tensor& weight, const Tensor& bias, const Tensor& out) {
  run([&] {
    gemm_->linear(element(x.dtype), x.data, x.rows, x.cols, weight.data, weight.rows, bias ? bias.data : nullptr, out.data,
                  out.dtype == DType::f32, stream_);
  });
}

void CudaBackend::head_rms_norm(const Tensor& qkv, const HeadLayout& heads, const Tensor& q_weight,
                                const Tensor& k_weight, float eps) {
  run([&] {
    kernels::head_rms_norm(element(qkv.dtype), qkv.data, qkv.rows, qkv.cols, heads_of(heads), q_weight.data,
                           k_weight.data, eps, stream_);
  });
}

void CudaBackend::rotary(const Tensor& qkv, const HeadLayout& heads, const Tensor& cos_sin, const StepBatch&) {
  run([&] {
    kernels::rotary(element(qkv.dtype), qkv.data, qkv.cols, heads_of(heads), cos_sin.as<const float>(), step_->view,
                    stream_);
  });
}

void CudaBackend::write_kv(const Tensor& qkv, const HeadLayout& heads, const LayerKvCache& cache, const StepBatch&) {
  run([&] {
    kernels::write_kv(element(qkv.dtype), qkv.data, qkv.cols, heads_of(heads), cache.keys.data, cache.values.data,
                      step_->view, stream_);
  });
}

void CudaBackend::attention(const Tensor& qkv, const HeadLayout& heads, const LayerKvCache& cache, const StepBatch&,
                            float scale, std::int64_t sliding_window, const Tensor& out) {
  static_assert(sizeof(kernels::PrefillTile) == 4 * sizeof(std::int32_t));
  const auto e = element(qkv.dtype);
  const auto h = heads_of(heads);
  const auto& step = *step_;
  run([&] {
    kernels::paged_attention(e, qkv.data, qkv.cols, h, cache.keys.data, cache.values.data, step.view, step.single_rows,
                             static_cast<std::int64_t>(single_rows_host_.size()), scale, sliding_window, out.data, stream_);
    // Prefill chunks go to the tensor-core kernel as tiles of (token, q head) rows, or, for head dims it
    // lacks, to the paged kernel token by token.
    const bool tiled = kernels::prefill_attention_supports(h.head_dim);
    if (!prefill_work_ready_) {
      prefill_work_.clear();
      for (const auto& [sequence, first, count] : prefill_chunks_) {
        if (tiled)
          for (std::int32_t t = 0; t < kernels::prefill_tiles(count, h); ++t)
            prefill_work_.insert(prefill_work_.end(), {sequence, first, count, t * 64});
        else
          for (std::int32_t row = first; row < first + count; ++row) prefill_work_.push_back(row);
      }
      step_->prefill_work = copy_to_device(prefill_work_array_, prefill_work_);
      prefill_work_ready_ = true;
    }
    const auto count = static_cast<std::int64_t>(prefill_work_.size() / (tiled ? 4 : 1));
    if (tiled)
      kernels::prefill_attention(e, qkv.data, qkv.cols, h, cache.keys.data, cache.values.data, step.view,
                                 reinterpret_cast<const kernels::PrefillTile*>(step.prefill_work), count,
                                 scale, sliding_window, out.data, stream_);
    else
      kernels::paged_attention(e, qkv.data, qkv.cols, h, cache.keys.data, cache.values.data, step.view, step.prefill_work,
                               count, scale, sliding_window, out.data, stream_);
  });
}

void CudaBackend::silu_mul(const Tensor& gate_up, const Tensor& out) {
  run([&] { kernels::silu_mul(element(gate_up.dtype), gate_up.data, gate_up.rows, out.cols, out.data, stream_); });
}

void CudaBackend::gather_logit_rows(const Tensor& x, const StepBatch& batch, const Tensor& out) {
  run([&] {
    kernels::gather_rows(x.data, static_cast<std::int64_t>(x.row_bytes()), static_cast<const std::int32_t*>(logit_rows_.data),
                         static_cast<std::int64_t>(batch.logit_rows.size()), out.data, stream_);
  });
}

}  // namespace llmctl::engine
