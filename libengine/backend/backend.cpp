#include "backend/backend.hpp"

#include "backend/cpu/cpu_backend.hpp"
#ifdef LLMCTL_HAVE_CUDA
#include "backend/cuda/cuda_backend.hpp"
#endif
#include "common/error.hpp"
#include "common/splitmix.hpp"

#include <fmt/format.h>

namespace llmctl::engine {

float uniform_at(std::uint64_t seed, std::uint64_t index, float low, float high) {
  const std::uint64_t x = splitmix64(seed * kSplitmixGamma + index);
  return low + (high - low) * static_cast<float>(x >> 40) * 0x1.0p-24f;
}

std::size_t upload_elements(const Tensor& destination, std::int64_t first_row, const HostTensor& source) {
  const std::size_t elements = source.data.size() * 8 / bits(source.dtype);
  const auto cols = static_cast<std::size_t>(destination.cols);
  if (elements % cols != 0 || first_row + static_cast<std::int64_t>(elements / cols) > destination.rows)
    throw Error(fmt::format("internal: {} elements do not fit rows {}.. of a [{}, {}] tensor", elements, first_row,
                            destination.rows, destination.cols));
  return elements;
}

void Backend::add_rms_norm_linear(const Tensor& residual, const Tensor& x, const Tensor& norm_weight, float eps,
                                  const Tensor& normed, const Tensor& weight, const Tensor& bias, const Tensor& out) {
  add_rms_norm(residual, x, norm_weight, eps, normed);
  linear(normed, weight, bias, out);
}

void Backend::add_rms_norm_linear_silu_mul(const Tensor& residual, const Tensor& x, const Tensor& norm_weight,
                                           float eps, const Tensor& normed, const Tensor& weight, const Tensor& bias,
                                           const Tensor& gate_up, const Tensor& out) {
  add_rms_norm(residual, x, norm_weight, eps, normed);
  linear_silu_mul(normed, weight, bias, gate_up, out);
}

std::unique_ptr<Backend> make_backend(std::string_view device, DType cuda_dtype) {
  if (device == "cpu") return std::make_unique<CpuBackend>();
#ifdef LLMCTL_HAVE_CUDA
  if (device == "cuda") return std::make_unique<CudaBackend>(cuda_dtype);
#else
  (void)cuda_dtype;
  if (device == "cuda") throw Error("--device cuda: this build of llmctl has no CUDA backend (built without nvcc)");
#endif
  throw Error(fmt::format("unknown device '{}' (expected cpu or cuda)", device));
}

}  // namespace llmctl::engine
