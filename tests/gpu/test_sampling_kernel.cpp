// On the GPU machine: the Gumbel-max sampler of kernels/sampling.cu against probabilities it must
// respect. A token 40 nats below the best one (probability under 1e-12 per row with a 152k vocabulary)
// must never be drawn at temperature 1; and two tokens of equal logits must each win about half the rows.
// Without a GPU it exits 77 (ctest: skipped).
#include "gpu_test_support.hpp"
#include "kernels.hpp"

#include <cuda_runtime.h>

#include <cstdio>
#include <vector>

namespace {

int failures = 0;

void expect(bool ok, const char* what) {
  std::printf("%s %s\n", ok ? "ok  " : "FAIL", what);
  failures += ok ? 0 : 1;
}

// Samples `rows` rows of `logits` (one vocabulary row repeated) at temperature 1, with distinct seeds.
std::vector<llmctl::kernels::SampleResult> sample(const std::vector<float>& logits, int rows) {
  const auto vocab = static_cast<std::int64_t>(logits.size());
  std::vector<float> all(static_cast<std::size_t>(rows) * logits.size());
  std::vector<llmctl::kernels::SampleRequest> requests(static_cast<std::size_t>(rows));
  for (int r = 0; r < rows; ++r) {
    std::copy(logits.begin(), logits.end(), all.begin() + static_cast<std::ptrdiff_t>(r) * vocab);
    requests[static_cast<std::size_t>(r)] = {r, 1.0f, 0x9e3779b97f4a7c15ull * static_cast<std::uint64_t>(r + 1)};
  }
  float* d_logits = nullptr;
  llmctl::kernels::SampleRequest* d_requests = nullptr;
  llmctl::kernels::SampleResult* d_results = nullptr;
  cudaMalloc(&d_logits, all.size() * sizeof(float));
  cudaMalloc(&d_requests, requests.size() * sizeof(requests[0]));
  cudaMalloc(&d_results, requests.size() * sizeof(llmctl::kernels::SampleResult));
  cudaMemcpy(d_logits, all.data(), all.size() * sizeof(float), cudaMemcpyHostToDevice);
  cudaMemcpy(d_requests, requests.data(), requests.size() * sizeof(requests[0]), cudaMemcpyHostToDevice);
  llmctl::kernels::sample_rows(d_logits, vocab, d_requests, rows, d_results, nullptr);
  std::vector<llmctl::kernels::SampleResult> results(static_cast<std::size_t>(rows));
  cudaMemcpy(results.data(), d_results, results.size() * sizeof(results[0]), cudaMemcpyDeviceToHost);
  expect(cudaGetLastError() == cudaSuccess, "the sampling kernel ran");
  cudaFree(d_logits);
  cudaFree(d_requests);
  cudaFree(d_results);
  return results;
}

}  // namespace

int main() {
  if (!llmctl::gpu_test::gpu_present()) return 77;
  constexpr int kRows = 4096;
  std::vector<float> peaked(152064, 0.0f);
  peaked[1234] = 40.0f;
  int off_peak = 0;
  for (const auto& r : sample(peaked, kRows)) off_peak += r.token != 1234;
  std::printf("peaked: %d of %d rows drew another token\n", off_peak, kRows);
  expect(off_peak == 0, "a token 40 nats ahead always wins at temperature 1");

  std::vector<float> tied(32000, -30.0f);
  tied[7] = tied[9] = 5.0f;
  int sevens = 0, others = 0;
  for (const auto& r : sample(tied, kRows)) {
    sevens += r.token == 7;
    others += r.token != 7 && r.token != 9;
  }
  std::printf("tied: token 7 won %d of %d rows\n", sevens, kRows);
  // Binomial(4096, 0.5): the standard deviation is 32 rows; 6 of them is far outside chance.
  expect(sevens > kRows / 2 - 192 && sevens < kRows / 2 + 192 && others == 0, "two equal tokens share the rows");
  return failures == 0 ? 0 : 1;
}
