// On the GPU machine: the Gumbel-max sampler of kernels/sampling.cu against probabilities it must
// respect. A token 40 nats below the best one (probability under 1e-12 per row with a 152k vocabulary)
// must never be drawn at temperature 1; two tokens of equal logits must each win about half the rows;
// greedy rows take the first maximum; a second call draws the same tokens; and the CPU backend's draw
// picks the same tokens (the kernel merges the row's slices: vocabularies that end inside a slice, or
// fill one). Rows with min_p, top_k, top_p, bans and penalties (Qwen2.5's and DeepSeek-R1-Distill's
// defaults among them) must adjust their logits and draw exactly as the CPU backend does, on random
// logits and on logits with thousands of ties.
// Without a GPU it exits 77 (ctest: skipped).
#include "backend/cpu/cpu_backend.hpp"
#include "gpu_test_support.hpp"
#include "kernels.hpp"

#include <cuda_runtime.h>

#include <algorithm>
#include <cmath>
#include <cstdio>
#include <cstring>
#include <random>
#include <set>
#include <span>
#include <vector>

namespace {

int failures = 0;

void expect(bool ok, const char* what) {
  std::printf("%s %s\n", ok ? "ok  " : "FAIL", what);
  failures += ok ? 0 : 1;
}

// Samples `rows` rows of `logits` (one vocabulary row repeated) at `temperature`, with distinct seeds;
// checks that a second call draws the same tokens.
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
  llmctl::kernels::sample_rows(d_logits, vocab, d_requests, std::max(1, rows / 2), nullptr, d_results, false, false,
                               d_results, d_workspace, nullptr);
  for (auto* out : {&results, &again}) {
    llmctl::kernels::sample_rows(d_logits, vocab, d_requests, rows, nullptr, d_results, false, false, d_results,
                                 d_workspace, nullptr);
    cudaMemcpy(out->data(), d_results, out->size() * sizeof(results[0]), cudaMemcpyDeviceToHost);
  }
  expect(cudaGetLastError() == cudaSuccess, "the sampling kernel ran");
  cudaFree(d_logits);
  cudaFree(d_requests);
  cudaFree(d_results);
  cudaFree(d_workspace);

  bool repeated = true;
  for (std::size_t r = 0; r < results.size(); ++r) repeated = repeated && results[r].token == again[r].token;
  std::printf("vocabulary %lld, temperature %.1f\n", static_cast<long long>(vocab), temperature);
  expect(repeated, "a second call repeats the first");
  return results;
}

using llmctl::engine::Backend;

// One call of sample_rows over `logits` (rows of `vocab`), after a greedy call whose results the
// requests' `pending` rows name; returns the results and leaves the adjusted logits in `logits`.
std::vector<llmctl::kernels::SampleResult> sample_after(std::vector<float>& logits, std::int64_t vocab,
                                                        const std::vector<Backend::DeviceSample>& requests,
                                                        const std::vector<Backend::SampleAdjustment>& adjustments,
                                                        std::vector<llmctl::kernels::SampleResult>& previous) {
  namespace k = llmctl::kernels;
  const auto rows = static_cast<std::int64_t>(requests.size());
  std::vector<k::SampleRequest> first(requests.size()), second(requests.size());
  for (std::size_t r = 0; r < requests.size(); ++r) {
    first[r] = {requests[r].row, 0.0f, 0};
    std::memcpy(static_cast<void*>(&second[r]), &requests[r], sizeof(second[r]));  // the same layout
  }
  float* d_logits = nullptr;
  k::SampleRequest* d_requests = nullptr;
  k::SampleAdjustment* d_adjustments = nullptr;
  k::SampleResult* d_results = nullptr;
  void* d_workspace = nullptr;
  const std::size_t workspace_bytes = k::sample_workspace_bytes(rows, vocab);
  cudaMalloc(&d_logits, logits.size() * sizeof(float));
  cudaMalloc(&d_requests, second.size() * sizeof(second[0]));
  cudaMalloc(&d_adjustments, std::max<std::size_t>(1, adjustments.size()) * sizeof(k::SampleAdjustment));
  cudaMalloc(&d_results, second.size() * sizeof(k::SampleResult));
  cudaMalloc(&d_workspace, workspace_bytes);
  cudaMemset(d_workspace, 0, workspace_bytes);
  cudaMemcpy(d_logits, logits.data(), logits.size() * sizeof(float), cudaMemcpyHostToDevice);
  cudaMemcpy(d_adjustments, adjustments.data(), adjustments.size() * sizeof(k::SampleAdjustment), cudaMemcpyHostToDevice);
  bool filtered = false, adjusted = !adjustments.empty();
  for (const auto& r : requests) {
    filtered = filtered || r.filtered(vocab);
    adjusted = adjusted || r.pending >= 0;
  }
  cudaMemcpy(d_requests, first.data(), first.size() * sizeof(first[0]), cudaMemcpyHostToDevice);
  k::sample_rows(d_logits, vocab, d_requests, rows, nullptr, d_results, false, false, d_results, d_workspace, nullptr);
  previous.resize(requests.size());
  cudaMemcpy(previous.data(), d_results, previous.size() * sizeof(previous[0]), cudaMemcpyDeviceToHost);
  cudaMemcpy(d_requests, second.data(), second.size() * sizeof(second[0]), cudaMemcpyHostToDevice);
  k::sample_rows(d_logits, vocab, d_requests, rows, d_adjustments, d_results, adjusted, filtered, d_results, d_workspace,
                 nullptr);
  std::vector<k::SampleResult> results(requests.size());
  cudaMemcpy(results.data(), d_results, results.size() * sizeof(results[0]), cudaMemcpyDeviceToHost);
  cudaMemcpy(logits.data(), d_logits, logits.size() * sizeof(float), cudaMemcpyDeviceToHost);
  expect(cudaGetLastError() == cudaSuccess, "the sampling kernels ran");
  for (void* p : {static_cast<void*>(d_logits), static_cast<void*>(d_requests), static_cast<void*>(d_adjustments),
                  static_cast<void*>(d_results), d_workspace})
    cudaFree(p);
  return results;
}

// Rows with min_p, top_k and top_p, and rows with bans and penalties (a pending token from the call
// before among them), against the CPU backend's cpu_adjust and cpu_draw: the same logits after the
// adjustments, the same tokens. `quantized`: logits on a grid of 0.25, so that thousands of tokens tie
// and the kernel's ranges narrow down to single values.
void check_filtered(std::size_t vocab, bool quantized, std::mt19937& random) {
  std::normal_distribution<float> normal(0.0f, 3.0f);
  std::vector<float> row(vocab);
  for (auto& x : row) x = quantized ? std::round(normal(random) * 4.0f) / 4.0f : normal(random);
  struct Filter {
    float temperature;
    int top_k;
    float top_p, min_p, repetition, frequency, presence;
  };
  const std::vector<Filter> filters = {
      {0.7f, 20, 0.8f, 0.0f, 1.05f, 0.0f, 0.0f},  // Qwen2.5's generation_config
      {0.6f, 0, 0.95f, 0.0f, 1.0f, 0.0f, 0.0f},   // DeepSeek-R1-Distill's
      {1.0f, 0, 0.9f, 0.0f, 1.0f, 0.5f, 0.5f},
      {1.0f, 0, 1.0f, 0.05f, 1.0f, 0.0f, 0.0f},
      {1.3f, 1000, 0.9f, 0.01f, 1.2f, 0.0f, 0.0f},
      {0.8f, 50, 1.0f, 0.0f, 1.0f, 0.0f, 0.0f},
      {1.0f, 3000, 0.99f, 0.0f, 1.0f, 0.0f, 0.0f},
      {0.0f, 20, 0.8f, 0.0f, 1.3f, 0.2f, 0.0f},   // greedy: the filters do not apply
  };
  const int rows = 64;
  std::vector<float> logits;
  std::vector<Backend::DeviceSample> requests;
  std::vector<Backend::SampleAdjustment> adjustments;
  std::uniform_int_distribution<std::int32_t> token(0, static_cast<std::int32_t>(vocab) - 1);
  for (int r = 0; r < rows; ++r) {
    logits.insert(logits.end(), row.begin(), row.end());
    const Filter& f = filters[static_cast<std::size_t>(r) % filters.size()];
    Backend::DeviceSample request{r, f.temperature, 0x9e3779b97f4a7c15ull * static_cast<std::uint64_t>(r + 1)};
    request.top_k = f.top_k;
    request.top_p = f.top_p;
    request.min_p = f.min_p;
    request.repetition_penalty = f.repetition;
    request.frequency_penalty = f.frequency;
    request.presence_penalty = f.presence;
    if (f.repetition != 1.0f || f.frequency != 0.0f || f.presence != 0.0f) {
      // Distinct tokens: prompt ones, output ones with counts, one banned; the pending token (the
      // greedy call's) may or may not be among them.
      request.adjustments_begin = static_cast<std::int32_t>(adjustments.size());
      std::set<std::int32_t> used;
      for (int i = 0; i < 40; ++i) {
        const std::int32_t t = token(random);
        if (!used.insert(t).second) continue;
        const std::uint32_t flags = i % 3 == 0 ? Backend::kInPrompt : (i % 3 == 1 ? 2u : Backend::kInPrompt | 1u);
        adjustments.push_back({t, i == 7 ? flags | Backend::kBanned : flags});
      }
      request.adjustments_count = static_cast<std::int32_t>(adjustments.size()) - request.adjustments_begin;
      request.pending = r;
    }
    requests.push_back(request);
  }
  std::vector<float> adjusted = logits;
  std::vector<llmctl::kernels::SampleResult> previous;
  const auto results = sample_after(adjusted, static_cast<std::int64_t>(vocab), requests, adjustments, previous);
  bool same_logits = true, same_tokens = true;
  int kept_beyond_one = 0;
  for (int r = 0; r < rows; ++r) {
    const auto& request = requests[static_cast<std::size_t>(r)];
    std::span<float> cpu_row(logits.data() + static_cast<std::size_t>(r) * vocab, vocab);
    llmctl::engine::cpu_adjust(cpu_row, request,
                               std::span(adjustments).subspan(static_cast<std::size_t>(request.adjustments_begin),
                                                              static_cast<std::size_t>(request.adjustments_count)),
                               request.pending >= 0 ? previous[static_cast<std::size_t>(r)].token : -1);
    same_logits =
        same_logits && std::equal(cpu_row.begin(), cpu_row.end(), adjusted.begin() + static_cast<std::ptrdiff_t>(r * vocab));
    const auto cpu = llmctl::engine::cpu_draw(cpu_row, request);
    const auto& gpu = results[static_cast<std::size_t>(r)];
    const bool same = cpu.token == gpu.token;
    if (!same) std::printf("  row %d: cpu %d, gpu %d\n", r, cpu.token, gpu.token);
    same_tokens = same_tokens && same;
    kept_beyond_one += gpu.token != previous[static_cast<std::size_t>(r)].token ? 1 : 0;
  }
  std::printf("vocabulary %zu%s: %d of %d rows drew other than the argmax\n", vocab, quantized ? ", quantized" : "",
              kept_beyond_one, rows);
  expect(same_logits, "bans and penalties change the logits as cpu_adjust does");
  expect(same_tokens, "filtered and penalized rows draw what cpu_draw draws");
  expect(kept_beyond_one > rows / 4, "the filtered rows draw, not take the argmax");
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
      const auto cpu = llmctl::engine::cpu_draw(logits, {0, 0.8f, 0x9e3779b97f4a7c15ull * (r + 1)});
      same = same && cpu.token == drawn[r].token;
    }
    expect(same, "the CPU backend draws the same tokens");
  }
  // 32001: odd rows are not 16-byte aligned.
  for (const std::size_t vocab : {1000u, 32000u, 32001u, 152064u}) check_filtered(vocab, false, random);
  check_filtered(152064, true, random);
  return failures == 0 ? 0 : 1;
}
