#include "backend/cuda/cuda_backend.hpp"

#include "common/error.hpp"
#include "common/log.hpp"
#include "gemm.hpp"
#include "kernels.hpp"
#include "runtime/forward_workspace.hpp"
#include "weights/dtype_convert.hpp"

#include <fmt/format.h>

#include <algorithm>
#include <chrono>
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

cudaStream_t create_stream(DType compute_dtype) {
  if (compute_dtype != DType::bf16 && compute_dtype != DType::f16)
    throw Error(fmt::format("the CUDA backend computes in bf16 or fp16, not {}", engine::name(compute_dtype)));
  int count = 0;
  if (cudaGetDeviceCount(&count) != cudaSuccess || count == 0) {
    cudaGetLastError();
    throw Error("--device cuda: no CUDA GPU is visible (driver missing or no device)");
  }
  cudaStream_t stream = nullptr;
  check(cudaStreamCreateWithFlags(&stream, cudaStreamNonBlocking), "cudaStreamCreate");
  return stream;
}

}  // namespace

template <typename F>
void CudaBackend::run(const std::string& name, F&& launch) {
  // Kernel launch errors come as std::runtime_error from kernels/; the engine reports llmctl::Error.
  try {
    if (timer_.on())
      timer_.time(name, launch);
    else
      launch();
  } catch (const std::runtime_error& e) {
    throw Error(fmt::format("CUDA kernel failed: {}", e.what()));
  }
}

void CudaBackend::synchronize(std::string_view what) {
  check(cudaStreamSynchronize(stream_), what);
  if (timer_.on()) timer_.collect();
}

CudaBackend::CudaBackend(DType compute_dtype)
    : compute_dtype_(compute_dtype), stream_(create_stream(compute_dtype)), timer_(stream_) {
  try {
    gemm_ = std::make_unique<kernels::Gemm>(kGemmWorkspaceBytes);
  } catch (const std::runtime_error& e) {
    cudaStreamDestroy(stream_);
    throw Error(fmt::format("CUDA: {}", e.what()));
  }
}

CudaBackend::~CudaBackend() {
  for (auto& [key, graph] : graphs_) cudaGraphExecDestroy(graph);
  gemm_.reset();
  for (auto event : drawn_)
    if (event) cudaEventDestroy(event);
  if (sample_host_) cudaFreeHost(sample_host_);
  if (sample_device_) cudaFree(sample_device_);
  if (attention_workspace_) cudaFree(attention_workspace_);
  cudaStreamDestroy(stream_);
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
  synchronize("the step");
}

void CudaBackend::fill_uniform(const Tensor& tensor, std::uint64_t seed, float low, float high) {
  run("fill_uniform",
      [&] { kernels::fill_uniform(element(tensor.dtype), tensor.data, tensor.elements(), seed, low, high, stream_); });
  synchronize("fill_uniform");
}

std::optional<Backend::MemoryInfo> CudaBackend::memory_info() const {
  std::size_t free_bytes = 0, total_bytes = 0;
  check(cudaMemGetInfo(&free_bytes, &total_bytes), "cudaMemGetInfo");
  return MemoryInfo{free_bytes, total_bytes};
}

std::size_t CudaBackend::draw_bytes() const {
  return sample_capacity_ * (sizeof(DeviceSample) + sizeof(DeviceSampled)) +
         adjustment_capacity_ * sizeof(SampleAdjustment);
}

std::byte* CudaBackend::host_draw(int draw) const { return sample_host_ + draw * draw_bytes(); }

Backend::DeviceSample* CudaBackend::requests_in(std::byte* draw) const { return reinterpret_cast<DeviceSample*>(draw); }

Backend::SampleAdjustment* CudaBackend::adjustments_in(std::byte* draw) const {
  return reinterpret_cast<SampleAdjustment*>(requests_in(draw) + sample_capacity_);
}

// After the adjustments, so that uploading those leaves the latest draw's results on the device (the
// pending tokens the penalties count).
Backend::DeviceSampled* CudaBackend::results_in(std::byte* draw) const {
  return reinterpret_cast<DeviceSampled*>(adjustments_in(draw) + adjustment_capacity_);
}

void CudaBackend::start_sampling(const Tensor& logits, std::span<const DeviceSample> rows,
                                 std::span<const SampleAdjustment> adjustments) {
  static_assert(sizeof(DeviceSample) == sizeof(kernels::SampleRequest) &&
                sizeof(DeviceSampled) == sizeof(kernels::SampleResult) &&
                sizeof(SampleAdjustment) == sizeof(kernels::SampleAdjustment) && kBanned == kernels::kAdjustBanned &&
                kInPrompt == kernels::kAdjustInPrompt);
  if (rows.size() > sample_capacity_ || adjustments.size() > adjustment_capacity_)
    throw Error(fmt::format("internal: {} rows and {} adjustments to sample, {} and {} reserved", rows.size(),
                            adjustments.size(), sample_capacity_, adjustment_capacity_));
  if (draws_started_ - draws_finished_ == 2) throw Error("internal: a third draw started before the first finished");
  const int draw = static_cast<int>(draws_started_++ % 2);
  draw_rows_[draw] = rows.size();
  if (rows.empty()) return;
  // The pinned half was last read by a draw two back, which finish_sampling() has waited for. One copy
  // takes the requests and the adjustments after them.
  std::byte* host = host_draw(draw);
  std::copy(rows.begin(), rows.end(), requests_in(host));
  std::copy(adjustments.begin(), adjustments.end(), adjustments_in(host));
  const std::size_t upload = adjustments.empty() ? rows.size() * sizeof(DeviceSample)
                                                 : reinterpret_cast<std::byte*>(adjustments_in(host) + adjustments.size()) - host;
  check(cudaMemcpyAsync(sample_device_, host, upload, cudaMemcpyHostToDevice, stream_), "sampling requests");
  bool adjusted = !adjustments.empty(), filtered = false;
  for (const auto& row : rows) {
    adjusted = adjusted || row.pending >= 0;
    filtered = filtered || row.filtered(logits.cols);
  }
  auto* results = reinterpret_cast<kernels::SampleResult*>(results_in(sample_device_));
  run("sample", [&] {
    kernels::sample_rows(logits.as<float>(), logits.cols, reinterpret_cast<const kernels::SampleRequest*>(sample_device_),
                         static_cast<std::int64_t>(rows.size()),
                         reinterpret_cast<const kernels::SampleAdjustment*>(adjustments_in(sample_device_)), results,
                         adjusted, filtered, results, sample_device_ + draw_bytes(), stream_);
  });
  check(cudaMemcpyAsync(results_in(host), results, rows.size() * sizeof(DeviceSampled), cudaMemcpyDeviceToHost, stream_),
        "sampled tokens");
  check(cudaEventRecord(drawn_[draw], stream_), "cudaEventRecord");
}

std::span<const Backend::DeviceSampled> CudaBackend::finish_sampling() {
  if (draws_finished_ == draws_started_) throw Error("internal: finish_sampling() without a draw outstanding");
  const int draw = static_cast<int>(draws_finished_++ % 2);
  if (draw_rows_[draw] == 0) return {};
  check(cudaEventSynchronize(drawn_[draw]), "sampling");
  if (timer_.on()) synchronize("sampling");  // the timings of every operation so far
  return {results_in(host_draw(draw)), draw_rows_[draw]};
}

void CudaBackend::download_rows(const Tensor& source, std::span<const std::int32_t> rows, std::span<float> destination) {
  for (std::size_t i = 0; i < rows.size(); ++i)
    check(cudaMemcpyAsync(destination.data() + i * static_cast<std::size_t>(source.cols),
                          source.data + static_cast<std::size_t>(rows[i]) * source.row_bytes(), source.row_bytes(),
                          cudaMemcpyDeviceToHost, stream_),
          "download");
  synchronize("the step");
}

void CudaBackend::reserve_steps(const StepLimits& limits, const HeadLayout& heads, std::int64_t vocab_size) {
  step_.reserve(limits, heads);
  sample_capacity_ = static_cast<std::size_t>(limits.max_sequences);
  adjustment_capacity_ = static_cast<std::size_t>(max_sample_adjustments(limits.max_sequences));
  // One draw, then the sampling kernel's workspace: what the memory plan counts.
  const std::size_t device_bytes = draw_bytes() + kernels::sample_workspace_bytes(limits.max_sequences, vocab_size);
  if (device_bytes != sampling_bytes(limits.max_sequences, vocab_size))
    throw Error(fmt::format("internal: the GPU sampler needs {} bytes, the memory plan counts {}", device_bytes,
                            sampling_bytes(limits.max_sequences, vocab_size)));
  void* host = nullptr;
  void* device = nullptr;
  if (cudaHostAlloc(&host, 2 * draw_bytes(), cudaHostAllocDefault) != cudaSuccess ||
      cudaMalloc(&device, device_bytes) != cudaSuccess || cudaMemset(device, 0, device_bytes) != cudaSuccess ||
      cudaMalloc(&attention_workspace_, kAttentionSplitBytes) != cudaSuccess) {
    if (host) cudaFreeHost(host);
    if (device) cudaFree(device);
    cudaGetLastError();
    throw Error(fmt::format("out of GPU memory allocating {} bytes for sampling and attention",
                            device_bytes + kAttentionSplitBytes));
  }
  sample_host_ = static_cast<std::byte*>(host);
  sample_device_ = static_cast<std::byte*>(device);
  for (auto& event : drawn_) check(cudaEventCreateWithFlags(&event, cudaEventDisableTiming), "cudaEventCreate");
}

void CudaBackend::prepare_step(const StepBatch& batch) { step_.write(batch, stream_); }

void CudaBackend::run_graph(std::int64_t key, const std::function<void()>& enqueue) {
  if (timer_.on()) {  // a graph would hide the operations from the timer
    enqueue();
    return;
  }
  capture_graph(key, enqueue);
  check(cudaGraphLaunch(graphs_.at(key), stream_), "cudaGraphLaunch");
}

void CudaBackend::capture_graph(std::int64_t key, const std::function<void()>& enqueue) {
  if (timer_.on() || graphs_.contains(key)) return;
  const auto started = std::chrono::steady_clock::now();
  // Captured per thread: the engine's thread is the only one that touches this stream.
  check(cudaStreamBeginCapture(stream_, cudaStreamCaptureModeThreadLocal), "cudaStreamBeginCapture");
  cudaGraph_t graph = nullptr;
  try {
    enqueue();
  } catch (...) {
    cudaStreamEndCapture(stream_, &graph);
    if (graph) cudaGraphDestroy(graph);
    cudaGetLastError();
    throw;
  }
  check(cudaStreamEndCapture(stream_, &graph), "cudaStreamEndCapture");
  const auto captured = std::chrono::steady_clock::now();
  cudaGraphExec_t exec = nullptr;
  const auto instantiated = cudaGraphInstantiate(&exec, graph, 0);
  cudaGraphDestroy(graph);
  check(instantiated, "cudaGraphInstantiate");
  graphs_.emplace(key, exec);
  const auto ms = [](auto from, auto to) { return std::chrono::duration<double, std::milli>(to - from).count(); };
  log::debug("CUDA graph for {} decode tokens: captured in {:.1f} ms, instantiated in {:.1f} ms", key,
             ms(started, captured), ms(captured, std::chrono::steady_clock::now()));
}

void CudaBackend::embed(const Tensor& table, const StepBatch&, const Tensor& out) {
  const auto* drawn = reinterpret_cast<const kernels::SampleResult*>(results_in(sample_device_));
  run("embed", [&] { kernels::embed(element(table.dtype), table.data, table.cols, step_.view(), drawn, out.data, stream_); });
}

void CudaBackend::rms_norm(const Tensor& x, const Tensor& weight, float eps, const Tensor& out) {
  run("rms_norm",
      [&] { kernels::rms_norm(element(x.dtype), x.data, weight.data, eps, x.rows, x.cols, out.data, stream_); });
}

void CudaBackend::add_rms_norm(const Tensor& residual, const Tensor& x, const Tensor& weight, float eps,
                               const Tensor& out) {
  run("add_rms_norm", [&] {
    kernels::add_rms_norm(element(x.dtype), residual.data, x.data, weight.data, eps, x.rows, x.cols, out.data, stream_);
  });
}

void CudaBackend::linear(const Tensor& x, const Tensor& weight, const Tensor& bias, const Tensor& out) {
  // Each weight shape is its own line of the profile (qkv, o, gate_up, down, lm_head).
  run(timer_.on() ? fmt::format("linear {}x{}", weight.rows, weight.cols) : std::string(), [&] {
    const auto e = element(x.dtype);
    const bool out_f32 = out.dtype == DType::f32;
    const void* b = bias ? bias.data : nullptr;
    if (kernels::skinny_gemm_supports(x.rows, x.cols, x.data, weight.data))
      kernels::skinny_gemm(e, x.data, x.rows, x.cols, weight.data, weight.rows, b, out.data, out_f32, stream_);
    else
      gemm_->linear(e, x.data, x.rows, x.cols, weight.data, weight.rows, b, out.data, out_f32, stream_);
  });
}

void CudaBackend::linear_silu_mul(const Tensor& x, const Tensor& weight, const Tensor& bias, const Tensor& gate_up,
                                  const Tensor& out) {
  const std::string name = timer_.on() ? fmt::format("linear {}x{} + silu_mul", weight.rows, weight.cols) : std::string();
  if (!bias && kernels::skinny_gemm_supports(x.rows, x.cols, x.data, weight.data)) {
    run(name, [&] {
      kernels::skinny_gemm_silu_mul(element(x.dtype), x.data, x.rows, x.cols, weight.data, out.cols, out.data, stream_);
    });
    return;
  }
  if (!bias && kernels::swiglu_gemm_supports(x.rows, x.cols, out.cols, x.data, weight.data, out.data)) {
    run(name, [&] {
      kernels::swiglu_gemm(element(x.dtype), x.data, x.rows, x.cols, weight.data, out.cols, out.data, stream_);
    });
    return;
  }
  linear(x, weight, bias, gate_up);
  run("silu_mul",
      [&] { kernels::silu_mul(element(gate_up.dtype), gate_up.data, gate_up.rows, out.cols, out.data, stream_); });
}

void CudaBackend::add_rms_norm_linear(const Tensor& residual, const Tensor& x, const Tensor& norm_weight, float eps,
                                      const Tensor& normed, const Tensor& weight, const Tensor& bias, const Tensor& out) {
  const kernels::ResidualNorm norm{residual.data, x.data, norm_weight.data, eps};
  if (!kernels::skinny_gemm_fuses_norm(x.rows, x.cols, weight.data, weight.rows, false, norm)) {
    Backend::add_rms_norm_linear(residual, x, norm_weight, eps, normed, weight, bias, out);
    return;
  }
  run(timer_.on() ? fmt::format("add_rms_norm + linear {}x{}", weight.rows, weight.cols) : std::string(), [&] {
    kernels::skinny_gemm(element(x.dtype), nullptr, x.rows, x.cols, weight.data, weight.rows, bias ? bias.data : nullptr,
                         out.data, out.dtype == DType::f32, stream_, &norm);
  });
}

void CudaBackend::add_rms_norm_linear_silu_mul(const Tensor& residual, const Tensor& x, const Tensor& norm_weight,
                                               float eps, const Tensor& normed, const Tensor& weight, const Tensor& bias,
                                               const Tensor& gate_up, const Tensor& out) {
  const kernels::ResidualNorm norm{residual.data, x.data, norm_weight.data, eps};
  if (bias || !kernels::skinny_gemm_fuses_norm(x.rows, x.cols, weight.data, out.cols, true, norm)) {
    Backend::add_rms_norm_linear_silu_mul(residual, x, norm_weight, eps, normed, weight, bias, gate_up, out);
    return;
  }
  run(timer_.on() ? fmt::format("add_rms_norm + linear {}x{} + silu_mul", weight.rows, weight.cols) : std::string(), [&] {
    kernels::skinny_gemm_silu_mul(element(x.dtype), nullptr, x.rows, x.cols, weight.data, out.cols, out.data, stream_,
                                  &norm);
  });
}

void CudaBackend::head_rms_norm(const Tensor& qkv, const HeadLayout& heads, const Tensor& q_weight,
                                const Tensor& k_weight, float eps) {
  run("head_rms_norm", [&] {
    kernels::head_rms_norm(element(qkv.dtype), qkv.data, qkv.rows, qkv.cols, heads_of(heads), q_weight.data,
                           k_weight.data, eps, stream_);
  });
}

void CudaBackend::attention(const Tensor& qkv, const HeadLayout& heads, const Tensor& cos_sin,
                            const LayerKvCache& cache, const StepBatch&, float scale, std::int64_t sliding_window,
                            const Tensor& out) {
  const auto e = element(qkv.dtype);
  const auto h = heads_of(heads);
  const auto* angles = cos_sin.as<const float>();
  auto* workspace = static_cast<float*>(attention_workspace_);
  // Decode tokens: one kernel rotates, caches and attends (the merge of split contexts aside).
  if (step_.decode_count() > 0)
    run("attention (decode)", [&] {
      kernels::paged_attention(e, qkv.data, qkv.cols, h, cache.keys.data, cache.values.data, step_.view(), angles,
                               step_.decode_rows(), step_.decode_count(), scale, sliding_window, out.data, workspace,
                               kAttentionSplitBytes, stream_);
    });
  if (step_.prefill_count() == 0) return;
  // Prefill chunks attend to each other's keys: all are rotated and cached first. Then they go to the
  // tensor-core kernel as tiles of (token, q head) rows, or, for head dims it lacks, to the paged kernel
  // token by token.
  run("rotary_write_kv", [&] {
    kernels::rotary_write_kv(e, qkv.data, qkv.cols, h, angles, cache.keys.data, cache.values.data, step_.view(),
                             step_.prefill_rows(), step_.prefill_count(), stream_);
  });
  run("attention (prefill)", [&] {
    if (step_.prefill_tiled())
      kernels::prefill_attention(e, qkv.data, qkv.cols, h, cache.keys.data, cache.values.data, step_.view(),
                                 step_.prefill_tiles(), step_.prefill_tile_count(), scale, sliding_window, out.data,
                                 stream_);
    else
      kernels::paged_attention(e, qkv.data, qkv.cols, h, cache.keys.data, cache.values.data, step_.view(), nullptr,
                               step_.prefill_rows(), step_.prefill_count(), scale, sliding_window, out.data, workspace,
                               kAttentionSplitBytes, stream_);
  });
}

void CudaBackend::gather_logit_rows(const Tensor& x, const StepBatch& batch, const Tensor& out) {
  run("gather_logit_rows", [&] {
    kernels::gather_rows(x.data, static_cast<std::int64_t>(x.row_bytes()), step_.logit_rows(),
                         static_cast<std::int64_t>(batch.logit_rows.size()), out.data, stream_);
  });
}

}  // namespace llmctl::engine
