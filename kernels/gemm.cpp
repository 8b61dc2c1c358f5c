#include "gemm.hpp"

#include <cublasLt.h>

#include <stdexcept>
#include <string>

namespace llmctl::kernels {
namespace {

void check(cublasStatus_t status, const char* what) {
  if (status != CUBLAS_STATUS_SUCCESS)
    throw std::runtime_error(std::string("cuBLASLt ") + what + ": " + cublasLtGetStatusString(status));
}

void check(cudaError_t error, const char* what) {
  if (error != cudaSuccess) throw std::runtime_error(std::string(what) + ": " + cudaGetErrorString(error));
}

cudaDataType_t data_type(Element e) { return e == Element::bf16 ? CUDA_R_16BF : CUDA_R_16F; }

}  // namespace

// Row-major out[rows, out] = x[rows, in] · W[out, in]ᵀ is, in cuBLAS's column-major terms,
// outᵀ[out, rows] = W (seen as [in, out], transposed) · xᵀ (seen as [in, rows]).
struct Gemm::Plan {
  cublasLtMatmulDesc_t operation = nullptr;
  cublasLtMatrixLayout_t a = nullptr, b = nullptr, c = nullptr;
  cublasLtMatmulAlgo_t algorithm{};

  ~Plan() {
    if (c) cublasLtMatrixLayoutDestroy(c);
    if (b) cublasLtMatrixLayoutDestroy(b);
    if (a) cublasLtMatrixLayoutDestroy(a);
    if (operation) cublasLtMatmulDescDestroy(operation);
  }
};

Gemm::Gemm(std::size_t workspace_bytes) : workspace_bytes_(workspace_bytes) {
  check(cublasLtCreate(&handle_), "create");
  check(cudaMalloc(&workspace_, workspace_bytes), "cudaMalloc (GEMM workspace)");
}

Gemm::~Gemm() {
  plans_.clear();
  if (workspace_) cudaFree(workspace_);
  if (handle_) cublasLtDestroy(handle_);
}

Gemm::Plan& Gemm::plan(Element e, std::int64_t rows, std::int64_t in, std::int64_t out_features, bool bias, bool out_f32) {
  const Shape key{rows, in, out_features, static_cast<int>(e), bias, out_f32};
  if (const auto it = plans_.find(key); it != plans_.end()) return *it->second;
  auto plan = std::make_unique<Plan>();
  check(cublasLtMatmulDescCreate(&plan->operation, CUBLAS_COMPUTE_32F, CUDA_R_32F), "matmul desc");
  const cublasOperation_t transpose = CUBLAS_OP_T, none = CUBLAS_OP_N;
  check(cublasLtMatmulDescSetAttribute(plan->operation, CUBLASLT_MATMUL_DESC_TRANSA, &transpose, sizeof(transpose)), "transa");
  check(cublasLtMatmulDescSetAttribute(plan->operation, CUBLASLT_MATMUL_DESC_TRANSB, &none, sizeof(none)), "transb");
  if (bias) {
    const cublasLtEpilogue_t epilogue = CUBLASLT_EPILOGUE_BIAS;
    const cudaDataType_t bias_type = data_type(e);
    check(cublasLtMatmulDescSetAttribute(plan->operation, CUBLASLT_MATMUL_DESC_EPILOGUE, &epilogue, sizeof(epilogue)), "epilogue");
    check(cublasLtMatmulDescSetAttribute(plan->operation, CUBLASLT_MATMUL_DESC_BIAS_DATA_TYPE, &bias_type, sizeof(bias_type)),
          "bias type");
  }
  const auto m = static_cast<std::uint64_t>(out_features), n = static_cast<std::uint64_t>(rows),
             k = static_cast<std::uint64_t>(in);
  check(cublasLtMatrixLayoutCreate(&plan->a, data_type(e), k, m, static_cast<std::int64_t>(k)), "layout a");
  check(cublasLtMatrixLayoutCreate(&plan->b, data_type(e), k, n, static_cast<std::int64_t>(k)), "layout b");
  check(cublasLtMatrixLayoutCreate(&plan->c, out_f32 ? CUDA_R_32F : data_type(e), m, n, static_cast<std::int64_t>(m)),
        "layout c");
  cublasLtMatmulPreference_t preference = nullptr;
  check(cublasLtMatmulPreferenceCreate(&preference), "preference");
  check(cublasLtMatmulPreferenceSetAttribute(preference, CUBLASLT_MATMUL_PREF_MAX_WORKSPACE_BYTES, &workspace_bytes_,
                                             sizeof(workspace_bytes_)),
        "workspace preference");
  if (bias) {
    // No split-K: with the bias epilogue, the split-K algorithms cuBLASLt offers where the output's
    // width is not a multiple of 8 gave wrong results (H200, CUDA 13.0: off by tens of roundings in
    // 16% of the outputs), and gpu_skinny_gemm_test checks it.
    const std::uint32_t no_reduction = CUBLASLT_REDUCTION_SCHEME_NONE;
    check(cublasLtMatmulPreferenceSetAttribute(preference, CUBLASLT_MATMUL_PREF_REDUCTION_SCHEME_MASK, &no_reduction,
                                               sizeof(no_reduction)),
          "reduction preference");
  }
  cublasLtMatmulHeuristicResult_t result{};
  int found = 0;
  const auto status = cublasLtMatmulAlgoGetHeuristic(handle_, plan->operation, plan->a, plan->b, plan->c, plan->c,
                                                     preference, 1, &result, &found);
  cublasLtMatmulPreferenceDestroy(preference);
  check(status, "heuristic");
  if (found == 0) throw std::runtime_error("cuBLASLt has no algorithm for this GEMM shape");
  plan->algorithm = result.algo;
  return *plans_.emplace(key, std::move(plan)).first->second;
}

void Gemm::linear(Element e, const void* x, std::int64_t rows, std::int64_t in, const void* weight,
                  std::int64_t out_features, const void* bias, void* out, bool out_f32, cudaStream_t stream) {
  if (bias && out_f32) throw std::invalid_argument("Gemm::linear: a bias only with an output in the element type");
  Plan& p = plan(e, rows, in, out_features, bias != nullptr, out_f32);
  if (bias)
    check(cublasLtMatmulDescSetAttribute(p.operation, CUBLASLT_MATMUL_DESC_BIAS_POINTER, &bias, sizeof(bias)), "bias");
  const float alpha = 1.0f, beta = 0.0f;
  check(cublasLtMatmul(handle_, p.operation, &alpha, weight, p.a, x, p.b, &beta, out, p.c, out, p.c, &p.algorithm,
                       workspace_, workspace_bytes_, stream),
        "matmul");
}

}  // namespace llmctl::kernels
