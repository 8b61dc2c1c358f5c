// On the GPU machine: the engine on the CUDA backend against transformers' fp32 greedy goldens of the
// tiny reference models (tests/fixtures/generation), in bf16 and fp16. Greedy tokens must agree until
// the first step where the reference's top-1/top-2 margin is within the 16-bit tolerance; the top-5
// logprobs of agreeing steps must be within it. Without a GPU it exits 77 (ctest: skipped).
#include "backend/device_query.hpp"
#include "common/json_file.hpp"
#include "runtime/engine.hpp"

#include <fmt/format.h>

#include <algorithm>
#include <cmath>
#include <cstdio>
#include <cstdlib>
#include <filesystem>
#include <map>
#include <optional>

namespace {

using namespace llmctl::engine;

// Rounding bounds for logprobs against fp32: bf16 keeps 8 significant bits, fp16 11, so fp16's error is
// about 8 times smaller (measured on an H200: at most 0.091 in bf16, 0.012 in fp16). A token may differ
// only where the reference's margin is within twice the bound.
double logprob_tolerance(const std::string& dtype) { return dtype == "bfloat16" ? 0.125 : 0.02; }

struct Stats {
  int steps = 0;
  int cases = 0;
  int early_divergences = 0;  // where the reference margin exceeded the tolerance: failures
  int allowed_divergences = 0;
  double worst_logprob = 0.0;
};

// The engine on the GPU for a reference model, with room for all its cases at once.
EngineConfig cuda_engine(const std::filesystem::path& folder) {
  EngineConfig config;
  config.model = folder;
  config.device = "cuda";
  config.num_blocks = 256;
  return config;
}

// Greedy for the goldens' 24 steps, EOS ignored; logprobs (the host sampler's path) when given.
SamplingParams greedy_params(std::optional<int> logprobs) {
  SamplingParams params;
  params.temperature = 0.0;
  params.max_tokens = 24;
  params.ignore_eos = true;
  params.logprobs = logprobs;
  return params;
}

Stats check_model(const std::filesystem::path& folder, const std::string& dtype) {
  const auto expected = llmctl::read_json_file(folder / "expected.json");
  auto config = cuda_engine(folder);
  config.dtype = dtype;
  Engine engine(config);
  const auto params = greedy_params(5);
  for (const auto& c : expected["cases"]) engine.add({c["name"], c["prompt_token_ids"].get<std::vector<TokenId>>(), params});
  std::map<std::string, std::vector<SampledToken>> results;
  while (engine.has_unfinished())
    for (auto& output : engine.step())
      for (auto& update : output.updates)
        for (auto& sampled : update.logprobs) results[output.request_id].push_back(sampled);
  Stats stats;
  for (const auto& c : expected["cases"]) {
    ++stats.cases;
    const auto& ours = results.at(c["name"]);
    const auto& steps = c["greedy"];
    for (std::size_t i = 0; i < steps.size() && i < ours.size(); ++i) {
      ++stats.steps;
      for (const auto& entry : steps[i]["top"]) {
        const auto id = entry[0].get<TokenId>();
        const auto& top = ours[i].top_logprobs;
        const auto it = std::find_if(top.begin(), top.end(), [&](const TokenLogprob& t) { return t.token == id; });
        if (it != top.end()) stats.worst_logprob = std::max(stats.worst_logprob, std::abs(it->logprob - entry[1].get<double>()));
      }
      if (ours[i].token != steps[i]["token"].get<TokenId>()) {
        ++(steps[i]["margin"].get<double>() <= 2 * logprob_tolerance(dtype) ? stats.allowed_divergences
                                                                          : stats.early_divergences);
        break;
      }
    }
  }
  return stats;
}

// Runs `cases` with `params` on the CUDA engine, one more request arriving at each step (so the batch
// grows between steps, through several graph sizes); the tokens of each choice, by request id.
std::map<std::string, std::vector<TokenId>> generate(const std::filesystem::path& folder, const SamplingParams& params,
                                                     const nlohmann::json& cases) {
  Engine engine(cuda_engine(folder));
  std::map<std::string, std::vector<TokenId>> tokens;
  for (std::size_t next = 0; next < cases.size() || engine.has_unfinished(); ++next) {
    if (next < cases.size())
      engine.add({cases[next]["name"], cases[next]["prompt_token_ids"].get<std::vector<TokenId>>(), params});
    for (auto& output : engine.step())
      for (auto& update : output.updates)
        for (const auto id : update.token_ids) tokens[output.request_id + "/" + std::to_string(update.index)].push_back(id);
  }
  return tokens;
}

// Rows without logprobs are drawn on the GPU and learned a step later (the next step takes them from
// the device): greedy must pick what the host sampler picks from the same logits, step by step, with
// penalties and bans too (the previous token still on the device when they are laid out), and a seeded
// draw, filtered or not, must repeat itself and differ between seeds.
int check_device_sampling(const std::filesystem::path& folder) {
  const auto cases = llmctl::read_json_file(folder / "expected.json")["cases"];
  const auto greedy = greedy_params(std::nullopt);
  const auto with_logprobs = greedy_params(1);  // the host path
  int failures = 0;
  const bool greedy_same = generate(folder, greedy, cases) == generate(folder, with_logprobs, cases);
  auto penalized = greedy, penalized_on_host = with_logprobs;
  for (auto* p : {&penalized, &penalized_on_host}) {
    p->repetition_penalty = 1.5;
    p->frequency_penalty = 0.4;
    p->presence_penalty = 0.3;
    p->min_tokens = 6;
    p->ignore_eos = false;
  }
  const bool penalized_same = generate(folder, penalized, cases) == generate(folder, penalized_on_host, cases);
  SamplingParams random;
  random.temperature = 0.9;
  random.max_tokens = 24;
  random.ignore_eos = true;
  random.seed = 7;
  random.n = 2;
  const auto first = generate(folder, random, cases);
  bool repeats = first == generate(folder, random, cases);
  auto filtered = random;
  filtered.top_k = 20;
  filtered.top_p = 0.8;
  filtered.repetition_penalty = 1.05;
  repeats = repeats && generate(folder, filtered, cases) == generate(folder, filtered, cases);
  bool choices_differ = true;
  for (const auto& c : cases) choices_differ = choices_differ && first.at(c["name"].get<std::string>() + "/0") != first.at(c["name"].get<std::string>() + "/1");
  for (const auto& [what, ok] : {std::pair{"greedy on the GPU = greedy on the host", greedy_same},
                                 std::pair{"penalized greedy on the GPU = on the host", penalized_same},
                                 std::pair{"seeded GPU sampling repeats", repeats},
                                 std::pair{"choices with seeds s and s + 1 differ", choices_differ}}) {
    std::printf("%s %s\n", ok ? "ok  " : "FAIL", what);
    failures += ok ? 0 : 1;
  }
  return failures;
}

// Decode steps replay CUDA graphs unless --enforce-eager. With 8 requests the decode batch is exactly
// a capture size, so the graph runs the same kernels on the same shapes as eager steps: tokens and
// logprobs must be identical, whether the graphs were captured at startup (from idle sequences) or at
// their first step. Profiling must see every kind of operation.
int check_graphs(const std::filesystem::path& folder) {
  auto cases = llmctl::read_json_file(folder / "expected.json")["cases"];
  cases.erase(cases.begin() + 8, cases.end());
  auto run = [&](bool eager, bool profile, bool at_start = false) {
    auto config = cuda_engine(folder);
    config.enforce_eager = eager;
    config.profile = profile;
    config.capture_graphs_at_start = at_start;
    Engine engine(config);
    const auto params = greedy_params(2);
    for (const auto& c : cases) engine.add({c["name"], c["prompt_token_ids"].get<std::vector<TokenId>>(), params});
    std::map<std::string, std::vector<std::pair<TokenId, double>>> results;
    while (engine.has_unfinished())
      for (auto& output : engine.step())
        for (auto& update : output.updates)
          for (auto& sampled : update.logprobs) results[output.request_id].emplace_back(sampled.token, sampled.logprob);
    std::vector<std::string> operations;
    for (const auto& t : engine.operation_times())
      if (t.calls > 0 && t.milliseconds > 0.0) operations.push_back(t.name);
    return std::pair{results, operations};
  };
  const auto [graphed, none] = run(false, false);
  const auto [captured_at_start, none_at_start] = run(false, false, true);
  const auto [eager, none_either] = run(true, false);
  const auto [profiled, operations] = run(false, true);
  auto has = [&](const std::string& name) { return std::find(operations.begin(), operations.end(), name) != operations.end(); };
  int failures = 0;
  for (const auto& [what, ok] : {std::pair{"decode graphs = eager, bit for bit", graphed == eager && graphed.size() == 8},
                                 std::pair{"graphs captured at startup = eager, bit for bit", captured_at_start == eager},
                                 std::pair{"profiling: same results", profiled == eager},
                                 std::pair{"profiling: no times without it", none.empty() && none_either.empty() && none_at_start.empty()},
                                 std::pair{"profiling: every operation timed",
                                           has("attention (decode)") && has("attention (prefill)") && has("embed") &&
                                               has("add_rms_norm") && has("silu_mul") &&
                                               std::any_of(operations.begin(), operations.end(),
                                                           [](const std::string& n) { return n.starts_with("linear "); })}}) {
    std::printf("%s %s\n", ok ? "ok  " : "FAIL", what);
    failures += ok ? 0 : 1;
  }
  return failures;
}

}  // namespace

int main() {
  const auto device = query_device(0);
  if (!device) {
    std::puts("SKIP: no CUDA GPU");
    return 77;
  }
  const char* source = std::getenv("LLMCTL_SOURCE_DIR");
  const std::filesystem::path models = std::filesystem::path(source ? source : LLMCTL_SOURCE_DIR) / "tests/fixtures/generation";
  int failures = 0;
  std::printf("%s\n%-18s %-9s %6s %6s %10s %10s %12s\n", device->name.c_str(), "model", "dtype", "cases", "steps",
              "allowed", "FAILED", "max dlogprob");
  for (const char* name : {"llama3", "qwen2-yarn", "qwen3", "mistral-window", "llama-linear-bin"})
    for (const char* dtype : {"bfloat16", "float16"}) {
      try {
        const auto s = check_model(models / name, dtype);
        const bool ok = s.early_divergences == 0 && s.worst_logprob <= logprob_tolerance(dtype);
        failures += ok ? 0 : 1;
        std::printf("%-18s %-9s %6d %6d %10d %10d %12.4f %s\n", name, dtype, s.cases, s.steps, s.allowed_divergences,
                    s.early_divergences, s.worst_logprob, ok ? "ok" : "FAIL");
      } catch (const std::exception& e) {
        ++failures;
        std::printf("%-18s %-9s FAIL: %s\n", name, dtype, e.what());
      }
    }
  failures += check_device_sampling(models / "qwen3");
  failures += check_graphs(models / "llama3");
  std::printf("%s\n", failures == 0 ? "all passed" : "FAILED");
  return failures == 0 ? 0 : 1;
}
