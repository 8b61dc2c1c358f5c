// llmctl-bench: vLLM's offline benchmarks on the in-process EngineClient. Throughput (vllm bench
// throughput): all requests at once, timed from the first submission to the last token. Latency (vllm
// bench latency): one batch end to end, repeated. `llmctl bench serve` measures a running server instead
// (serve_bench.cpp).
#include "bench/bench_cli.hpp"
#include "bench/serve_bench.hpp"
#include "common/error.hpp"
#include "common/model_argument.hpp"
#include "backend/device_query.hpp"
#include "runtime/engine_client.hpp"
#include "runtime/roofline.hpp"

#include <fmt/format.h>
#include <nlohmann/json.hpp>

#include <algorithm>
#include <chrono>
#include <fstream>
#include <random>

namespace {

using namespace llmctl;
using engine::TokenId;
using Clock = std::chrono::steady_clock;

struct Request {
  std::vector<TokenId> prompt;
  int output_len;
};

// vLLM's random dataset: lengths uniform in [len x (1 - r), len x (1 + r)], token ids uniform.
std::vector<Request> random_requests(int count, std::int64_t input_len, std::int64_t output_len, double ratio,
                                     std::int64_t vocab, std::uint64_t seed) {
  std::mt19937_64 random(seed);
  auto length = [&](std::int64_t mean) {
    const auto low = std::max<std::int64_t>(1, static_cast<std::int64_t>(static_cast<double>(mean) * (1.0 - ratio)));
    const auto high = std::max(low, static_cast<std::int64_t>(static_cast<double>(mean) * (1.0 + ratio)));
    return low + static_cast<std::int64_t>(random() % static_cast<std::uint64_t>(high - low + 1));
  };
  std::vector<Request> requests(static_cast<std::size_t>(count));
  for (auto& r : requests) {
    r.prompt.resize(static_cast<std::size_t>(length(input_len)));
    for (auto& id : r.prompt) id = static_cast<TokenId>(random() % static_cast<std::uint64_t>(vocab));
    r.output_len = static_cast<int>(length(output_len));
  }
  return requests;
}

// Runs every request at once; returns the seconds from the first submission to the last output.
double run_all(engine::EngineClient& client, const std::vector<Request>& requests, int n, std::int64_t& output_tokens) {
  const auto start = Clock::now();
  std::vector<std::shared_ptr<engine::RequestStream>> streams;
  for (const auto& r : requests) {
    engine::SamplingParams params;  // vLLM's benchmark: temperature 1, top_p 1, exactly output_len tokens
    params.n = n;
    params.ignore_eos = true;
    params.max_tokens = r.output_len;
    streams.push_back(client.submit(r.prompt, params));
  }
  output_tokens = 0;
  for (auto& stream : streams)
    while (auto output = stream->next())
      for (const auto& update : output->updates) output_tokens += static_cast<std::int64_t>(update.token_ids.size());
  return std::chrono::duration<double>(Clock::now() - start).count();
}

double percentile(std::vector<double> values, double p) {
  std::sort(values.begin(), values.end());
  const double rank = p / 100.0 * static_cast<double>(values.size() - 1);
  const auto below = static_cast<std::size_t>(rank);
  const auto above = std::min(below + 1, values.size() - 1);
  return values[below] + (values[above] - values[below]) * (rank - static_cast<double>(below));
}

engine::Workload workload(const cli::BenchOptions& o, const engine::Engine& engine, std::int64_t requests,
                          std::int64_t input_len) {
  const unsigned bytes = bits(engine.compute_dtype()) / 8;
  return {requests * o.n, input_len, o.output_len, engine.limits().max_num_seqs, bytes, bytes};
}

// The roofline of the run, from ceilings measured before the engine started; printed after the result.
nlohmann::ordered_json report_roofline(const std::optional<engine::DeviceCeilings>& ceilings, const engine::Engine& engine,
                                       const engine::Workload& workload, double elapsed) {
  if (!ceilings) return nullptr;
  const auto r = engine::roofline(engine.model_config(), workload, *ceilings);
  fmt::print("Roofline: {:.3f} s = prefill {:.3f} s ({:.1f} TFLOP at {:.0f} TFLOP/s) + decode {:.3f} s ({:.1f} GB at "
             "{:.2f} TB/s, measured now); achieved {:.1f}% of it\n",
             r.seconds(), r.prefill_seconds, r.prefill_flops / 1e12, ceilings->gemm_flops_per_second / 1e12,
             r.decode_seconds, r.decode_bytes / 1e9, ceilings->copy_bytes_per_second / 1e12, 100.0 * r.seconds() / elapsed);
  return {{"roofline_seconds", r.seconds()},
          {"roofline_prefill_seconds", r.prefill_seconds},
          {"roofline_decode_seconds", r.decode_seconds},
          {"copy_bytes_per_second", ceilings->copy_bytes_per_second},
          {"gemm_flops_per_second", ceilings->gemm_flops_per_second},
          {"fraction_of_roofline", r.seconds() / elapsed}};
}

// The GPU time of each kind of operation, largest first, against the wall time of the runs. Read once
// every request has finished, so the engine thread is idle.
void report_profile(const engine::Engine& engine, double wall_seconds) {
  auto times = engine.operation_times();
  std::sort(times.begin(), times.end(), [](const auto& a, const auto& b) { return a.milliseconds > b.milliseconds; });
  double total = 0.0;
  std::int64_t calls = 0;
  for (const auto& t : times) {
    total += t.milliseconds / 1e3;
    calls += t.calls;
  }
  fmt::print("GPU time by operation (CUDA events, no graphs): {:.3f} s in {} operations, {:.1f}% of {:.3f} s of runs\n",
             total, calls, 100.0 * total / wall_seconds, wall_seconds);
  fmt::print("  {:<28} {:>9} {:>10} {:>7} {:>10}\n", "operation", "calls", "total s", "share", "mean us");
  for (const auto& t : times)
    fmt::print("  {:<28} {:>9} {:>10.3f} {:>6.1f}% {:>10.1f}\n", t.name, t.calls, t.milliseconds / 1e3,
               100.0 * t.milliseconds / 1e3 / total, 1e3 * t.milliseconds / static_cast<double>(t.calls));
}

void write_json(const std::string& path, const nlohmann::ordered_json& results) {
  std::ofstream out(path);
  if (!out) throw Error(fmt::format("--output-json {}: cannot be written", path));
  out << results.dump(4) << "\n";
}

}  // namespace

int main(int argc, char** argv) {
  cli::BenchCommand command;
  return cli::run(command, argc, argv, [&] {
    if (command.serve->parsed()) return bench::run_serve_benchmark(command.serve_options);
    auto& o = command.options;
    if (o.model.empty()) throw Error("no model: give MODEL or --model");
    if (o.num_prompts < 1 || o.n < 1 || o.batch_size < 1 || o.num_iters < 1 || o.num_iters_warmup < 0 || o.output_len < 1 ||
        o.input_len < 0 || !(o.random_range_ratio >= 0.0 && o.random_range_ratio < 1.0))
      throw Error("--num-prompts, --n, --batch-size, --num-iters and --output-len must be positive, "
                  "--input-len and --num-iters-warmup not negative, --random-range-ratio in [0, 1)");
    auto config = cli::engine_config(o.engine, cli::resolve_model_argument(o.model, o.engine.dummy_weights()));
    config.seed = o.seed;
    config.profile = o.profile;
    config.capture_graphs_at_start = true;  // as vLLM, whose timed runs include no capture
    const auto ceilings = config.device == "cuda" ? engine::measure_device_ceilings() : std::nullopt;
    engine::EngineClient client(config);
    const auto& engine = client.engine();
    const std::int64_t vocab = engine.model_config().vocab_size;

    if (!o.latency) {
      const auto requests = random_requests(o.num_prompts, o.input_len > 0 ? o.input_len : 1024, o.output_len,
                                            o.random_range_ratio, vocab, o.seed);
      std::int64_t prompt_tokens = 0;
      for (const auto& r : requests) prompt_tokens += static_cast<std::int64_t>(r.prompt.size());
      std::int64_t output_tokens = 0;
      const double elapsed = run_all(client, requests, o.n, output_tokens);
      const double total = static_cast<double>(prompt_tokens + output_tokens);
      fmt::print("Throughput: {:.2f} requests/s, {:.2f} total tokens/s, {:.2f} output tokens/s\n",
                 static_cast<double>(requests.size()) / elapsed, total / elapsed, static_cast<double>(output_tokens) / elapsed);
      fmt::print("Total num prompt tokens:  {}\nTotal num output tokens:  {}\n", prompt_tokens, output_tokens);
      const auto line = report_roofline(ceilings, engine, workload(o, engine, o.num_prompts, o.input_len > 0 ? o.input_len : 1024), elapsed);
      if (o.profile) report_profile(engine, elapsed);
      if (!o.output_json.empty())
        write_json(o.output_json, {{"elapsed_time", elapsed},
                                   {"num_requests", requests.size()},
                                   {"total_num_tokens", prompt_tokens + output_tokens},
                                   {"requests_per_second", static_cast<double>(requests.size()) / elapsed},
                                   {"tokens_per_second", total / elapsed},
                                   {"roofline", line}});
      return;
    }

    const auto batch = random_requests(o.batch_size, o.input_len > 0 ? o.input_len : 32, o.output_len, 0.0, vocab, o.seed);
    std::int64_t output_tokens = 0;
    double wall = 0.0;  // of every run, warm-up included: the profile covers them all
    for (int i = 0; i < o.num_iters_warmup; ++i) wall += run_all(client, batch, o.n, output_tokens);
    std::vector<double> latencies;
    for (int i = 0; i < o.num_iters; ++i) latencies.push_back(run_all(client, batch, o.n, output_tokens));
    double sum = 0.0;
    for (const double l : latencies) sum += l;
    fmt::print("Avg latency: {} seconds\n", sum / static_cast<double>(latencies.size()));
    nlohmann::ordered_json percentiles;
    for (const int p : {10, 25, 50, 75, 90, 99}) {
      const double value = percentile(latencies, p);
      fmt::print("{}% percentile latency: {} seconds\n", p, value);
      percentiles[std::to_string(p)] = value;
    }
    const auto line = report_roofline(ceilings, engine, workload(o, engine, o.batch_size, o.input_len > 0 ? o.input_len : 32),
                                      percentile(latencies, 50));
    if (o.profile) report_profile(engine, wall + sum);
    if (!o.output_json.empty())
      write_json(o.output_json, {{"avg_latency", sum / static_cast<double>(latencies.size())},
                                 {"latencies", latencies},
                                 {"percentiles", percentiles},
                                 {"roofline", line}});
  });
}
