// On the GPU machine: the Gumbel-max sampler of kernels/sampling.cu against probabilities it must
// respect. A token 40 nats below the best one (probability under 1e-12 per row with a 152k vocabulary)
// must never be drawn at temperature 1; two tokens of equal logits must each win about half the rows;
// greedy rows take the first maximum; and every logprob is log_softmax at the drawn token, computed in
// float64 here (the kernel merges the row's slices: vocabularies that end inside a slice, or fill one);
// and the CPU backend's draw picks the same tokens.
// Without a GPU it exits 77 (ctest: skipped).
#include "backend/cpu/cpu_backend.hpp"
#include "gpu_test_support.hpp"
#include "kernels.hpp"

#include <cuda_runtime.h>

#include <algorithm>
#include <cmath>
#include <cstdio>
#include <random>
#include <vector>

namespace {

int failures = 0;

void expect(bool ok, const char* what) {
  std::printf("%s %s\n", ok ? "ok  " : "FAIL", what);
  failures += ok ? 0 : 1;
}

// Samples `rows` rows of `logits` (one vocabulary row repeated) at `temperature`, with distinct seeds;
// checks each result's logprob against log_softmax in float64.
std::vector<llmctl::kernels::SampleResult> sample(const std::vector<float>& logits, int rows, float temperature = 1.0f) {
  const auto vocab = static_cast<std::int64_t>(logits.size());
  std::vector<float> all(static_cast<std::size_t>(rows) * logits.size());
  std::vector<llmctl::kernels::SampleRequest> requests(static_cast<std::size_t>(rows));
  for (int r = 0; r < rows; ++r) {
    std::copy(logits.begin(), logits.end(), all.begin() + static_cast<std::ptrdiff_t>(r) * vocab);
    requests[static_cast<std::size_t>(r)] = {r, temperature, 0x9e3779b97f4a7c15ull * static_cast<std::uint64_t>(r + 1)};
  }
  float* d_logits = nullptr;
  llmctl::kernels::SampleRequest* d_requests = nullptr;
  llmctl::kernels::SampleResult* d_results = nullptr;
  void* d_workspace = nullptr;
  const std::size_t workspace_bytes = llmctl::kernels::sample_workspace_bytes(rows, vocab);
  cudaMalloc(&d_logits, all.size() * sizeof(float));
  cudaMalloc(&d_requests, requests.size() * sizeof(requests[0]));
  cudaMalloc(&d_results, requests.size() * sizeof(llmctl::kernels::SampleResult));
  cudaMalloc(&d_workspace, workspace_bytes);
  cudaMemset(d_workspace, 0, workspace_bytes);
  cudaMemcpy(d_logits, all.data(), all.size() * sizeof(float), cudaMemcpyHostToDevice);
  cudaMemcpy(d_requests, requests.data(), requests.size() * sizeof(requests[0]), cudaMemcpyHostToDevice);
  std::vector<llmctl::kernels::SampleResult> results(static_cast<std::size_t>(rows)), again(results.size());
  // A call of half the rows first, then all of them twice: each call must leave the workspace ready for
  // the next, whatever its row count (as engine steps sample more rows, then fewer).
  llmctl::kernels::sample_rows(d_logits, vocab, d_requests, std::max(1, rows / 2), d_results, d_workspace, nullptr);
  for (auto* out : {&results, &again}) {
    llmctl::kernels::sample_rows(d_logits, vocab, d_requests, rows, d_results, d_workspace, nullptr);
    cudaMemcpy(out->data(), d_results, out->size() * sizeof(results[0]), cudaMemcpyDeviceToHost);
  }
  expect(cudaGetLastError() == cudaSuccess, "the sampling kernel ran");
  cudaFree(d_logits);
  cudaFree(d_requests);
  cudaFree(d_results);
  cudaFree(d_workspace);

  double max_logit = logits[0];
  for (const float x : logits) max_logit = std::max<double>(max_logit, x);
  double sum = 0.0;
  for (const float x : logits) sum += std::exp(x - max_logit);
  double worst = 0.0;
  bool repeated = true;
  for (std::size_t r = 0; r < results.size(); ++r) {
    const auto& result = results[r];
    repeated = repeated && result.token == again[r].token && result.logprob == again[r].logprob;
    const double expected = logits[static_cast<std::size_t>(result.token)] - max_logit - std::log(sum);
    worst = std::max(worst, std::fabs(result.logprob - expected));
  }
  std::printf("vocabulary %lld, temperature %.1f: logprobs within %.2e of float64\n", static_cast<long long>(vocab),
              temperature, worst);
  expect(worst < 1e-4, "logprobs are log_softmax at the drawn token");
  expect(repeated, "a second call repeats the first");
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

  // Random logits over vocabularies of one slice, of several ending inside the last, and of whole
  // slices; greedy rows pick the first maximum (a copy of it placed later must not win).
  std::mt19937 random(7);
  std::normal_distribution<float> normal(0.0f, 3.0f);
  for (const std::size_t vocab : {1000u, 32000u, 152064u, 8192u * 4}) {
    std::vector<float> logits(vocab);
    for (auto& x : logits) x = normal(random);
    const auto top = static_cast<std::size_t>(std::max_element(logits.begin(), logits.end()) - logits.begin());
    logits.back() = logits[top];
    bool first = true;
    for (const auto& r : sample(logits, 4, 0.0f)) first = first && r.token == static_cast<std::int32_t>(top);
    expect(first, "greedy takes the first maximum");
    // The CPU backend's draw (cpu_draw) is the same: same noise, same winner.
    const auto drawn = sample(logits, 64, 0.8f);
    bool same = true;
    for (std::size_t r = 0; r < drawn.size(); ++r) {
      const auto cpu = llmctl::engine::cpu_draw(logits, 0.8f, 0x9e3779b97f4a7c15ull * (r + 1));
      same = same && cpu.token == drawn[r].token && std::fabs(cpu.logprob - drawn[r].logprob) < 1e-4f;
    }
    expect(same, "the CPU backend draws the same tokens");
  }
  return failures == 0 ? 0 : 1;
}
