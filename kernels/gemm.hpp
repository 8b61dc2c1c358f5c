#pragma once

#include "kernels.hpp"

#include <cstdint>
#include <map>
#include <memory>
#include <tuple>

struct cublasLtContext;

namespace llmctl::kernels {

// out = x · weightᵀ (+ bias) through cuBLASLt: x [rows, in] and weight [out, in] row-major in `e`, out in
// `e` or f32 (logits), f32 accumulation, the bias (with an output in `e` only) added by the GEMM's
// epilogue. The algorithm for each shape is chosen once by cuBLASLt's heuristic and kept.
class Gemm {
 public:
  explicit Gemm(std::size_t workspace_bytes);
  ~Gemm();
  Gemm(const Gemm&) = delete;
  Gemm& operator=(const Gemm&) = delete;

  void linear(Element e, const void* x, std::int64_t rows, std::int64_t in, const void* weight, std::int64_t out_features,
              const void* bias, void* out, bool out_f32, cudaStream_t stream);

 private:
  struct Plan;
  using Shape = std::tuple<std::int64_t, std::int64_t, std::int64_t, int, bool, bool>;
  Plan& plan(Element e, std::int64_t rows, std::int64_t in, std::int64_t out_features, bool bias, bool out_f32);

  cublasLtContext* handle_ = nullptr;
  void* workspace_ = nullptr;
  std::size_t workspace_bytes_;
  std::map<Shape, std::unique_ptr<Plan>> plans_;
};

}  // namespace llmctl::kernels
