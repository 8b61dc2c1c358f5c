#include "runtime/engine.hpp"

#include "common/error.hpp"
#include "common/json_file.hpp"
#include "support/engine_runs.hpp"

#include <doctest/doctest.h>

#include <fmt/format.h>

#include <cmath>

using namespace llmctl::engine;
using namespace llmctl::test;
using doctest::Contains;

namespace {

struct Comparison {
  int compared = 0;   // steps whose token and logprobs were checked
  int diverged = 0;   // cases that took another token where transformers' margin was within 1e-3
};

// Greedy tokens must equal transformers' wherever its top-1/top-2 margin exceeds 1e-3; the top-5 logprobs
// must agree within 1e-4. After a permitted divergence the two continuations are different texts, and
// comparing stops.
void compare(const Choice& ours, const nlohmann::json& reference, const std::string& label, Comparison& stats) {
  const auto& steps = reference["greedy"];
  REQUIRE(ours.tokens.size() == steps.size());
  for (std::size_t i = 0; i < steps.size(); ++i) {
    INFO(label << " step " << i);
    const auto& top = ours.logprobs[i].top_logprobs;
    REQUIRE(top.size() == 5);
    for (const auto& entry : steps[i]["top"]) {
      const auto id = entry[0].get<TokenId>();
      const auto expected = entry[1].get<double>();
      const auto it = std::find_if(top.begin(), top.end(), [&](const TokenLogprob& t) { return t.token == id; });
      if (it != top.end())
        CHECK(std::abs(it->logprob - expected) <= 1e-4);
      else  // a near tie at the fifth place
        CHECK(expected - top.back().logprob <= 1e-4);
    }
    ++stats.compared;
    if (ours.tokens[i] != steps[i]["token"].get<TokenId>()) {
      CHECK(steps[i]["margin"].get<double>() <= 1e-3);
      ++stats.diverged;
      return;
    }
  }
}

}  // namespace

TEST_CASE("greedy generation matches transformers for every architecture, alone and batched") {
  for (const auto& name : kGenerationModelNames) {
    INFO(name);
    const auto expected = llmctl::read_json_file(kGenerationModels / name / "expected.json");
    Engine engine(small_engine(name));
    Comparison alone, batched;
    for (const auto& c : expected["cases"]) {
      engine.add({c["name"], c["prompt_token_ids"].get<std::vector<TokenId>>(), greedy_params(24)});
      const auto result = run_to_completion(engine);
      compare(result.at(c["name"].get<std::string>() + "/0"), c, name + " " + c["name"].get<std::string>(), alone);
    }
    for (const auto& c : expected["cases"])
      engine.add({c["name"], c["prompt_token_ids"].get<std::vector<TokenId>>(), greedy_params(24)});
    const auto results = run_to_completion(engine);
    for (const auto& c : expected["cases"])
      compare(results.at(c["name"].get<std::string>() + "/0"), c, name + " batched " + c["name"].get<std::string>(), batched);
    // Nearly every step is compared: a divergence is rare and only where transformers itself hesitates.
    CHECK(alone.compared >= static_cast<int>(expected["cases"].size()) * 20);
    CHECK(batched.compared == alone.compared);
    CHECK(batched.diverged == alone.diverged);
  }
}

TEST_CASE("text decoded incrementally equals transformers' decode of the same tokens") {
  const auto expected = llmctl::read_json_file(kGenerationModels / "qwen3" / "expected.json");
  Engine engine(small_engine("qwen3"));
  REQUIRE(engine.tokenizer() != nullptr);
  for (const auto& c : expected["cases"]) {
    auto params = greedy_params(24, std::nullopt);
    params.skip_special_tokens = false;
    engine.add({c["name"], c["prompt_token_ids"].get<std::vector<TokenId>>(), params});
  }
  const auto results = run_to_completion(engine);
  for (const auto& c : expected["cases"]) {
    const auto& choice = results.at(c["name"].get<std::string>() + "/0");
    std::vector<TokenId> reference;
    for (const auto& step : c["greedy"]) reference.push_back(step["token"]);
    if (choice.tokens == reference) CHECK(choice.text == c["greedy_text"].get<std::string>());
  }
}

namespace {

// Runs `requests` one at a time, then all at once on a KV pool of 33 blocks of 16 tokens for up to 8
// sequences of up to 512 tokens (preemption is certain), and checks that each choice came out the same.
// Returns the batched choices.
std::map<std::string, Choice> check_batched_equals_alone(const std::vector<EngineRequest>& requests) {
  std::map<std::string, Choice> alone;
  {
    Engine engine(small_engine("qwen2-yarn"));
    for (const auto& request : requests) {
      engine.add(request);
      alone.merge(run_to_completion(engine));
    }
  }

  auto config = small_engine("qwen2-yarn");
  config.num_blocks = 33;
  config.limits.max_num_batched_tokens = 64;
  config.limits.max_num_seqs = 8;
  Engine engine(config);
  for (const auto& request : requests) engine.add(request);
  const auto batched = run_to_completion(engine);

  REQUIRE(batched.size() == alone.size());
  for (const auto& [key, choice] : alone) {
    INFO(key);
    const auto& other = batched.at(key);
    CHECK(other.tokens == choice.tokens);
    CHECK(other.text == choice.text);
    CHECK(other.finish_reason == choice.finish_reason);
    REQUIRE(other.logprobs.size() == choice.logprobs.size());
    for (std::size_t i = 0; i < choice.logprobs.size(); ++i) CHECK(other.logprobs[i].logprob == choice.logprobs[i].logprob);
  }
  CHECK(engine.scheduler().num_preemptions() > 0);
  CHECK(engine.scheduler().prefix_cache_hits() > 0);
  CHECK(engine.scheduler().prefix_cache_hits() <= engine.scheduler().prefix_cache_queries());
  CHECK(engine.stats().generation_tokens == [&] {
    std::int64_t tokens = 0;
    for (const auto& [key, choice] : batched) tokens += static_cast<std::int64_t>(choice.tokens.size());
    return tokens;
  }());
  return batched;
}

}  // namespace

TEST_CASE("requests of mixed lengths with chunked prefill, prefix-cache hits and preemption equal each request run alone") {
  // Greedy and seeded sampling with logprobs, top-k and top-p (drawn by the host sampler), n > 1, and
  // prompts that share prefixes.
  const auto expected = llmctl::read_json_file(kGenerationModels / "qwen2-yarn" / "expected.json");
  std::vector<EngineRequest> requests;
  int index = 0;
  for (const auto& c : expected["cases"]) {
    const auto prompt = c["prompt_token_ids"].get<std::vector<TokenId>>();
    requests.push_back({fmt::format("greedy-{}", index), prompt, greedy_params(40)});
    SamplingParams sampled;
    sampled.temperature = 0.8;
    sampled.top_p = 0.9;
    sampled.top_k = 40;
    sampled.seed = 1000 + static_cast<std::uint64_t>(index);
    sampled.n = 2;
    sampled.max_tokens = 30;
    sampled.ignore_eos = true;
    sampled.logprobs = 3;
    requests.push_back({fmt::format("sampled-{}", index), prompt, sampled});
    // The same long prompt with another ending: its first blocks come from the prefix cache.
    auto variant = prompt;
    variant.push_back(static_cast<TokenId>(index));
    requests.push_back({fmt::format("variant-{}", index), variant, greedy_params(20)});
    ++index;
  }
  const auto batched = check_batched_equals_alone(requests);
  // The two choices of a seeded request differ (seeds s and s + 1).
  CHECK(batched.at("sampled-6/0").tokens != batched.at("sampled-6/1").tokens);
}

TEST_CASE("tokens drawn where the logits are, learned a step later, equal each request run alone") {
  // Rows without logprobs are drawn by the backend (bans, penalties, top-k/top-p/min-p included), and
  // the engine prepares each step before it knows the tokens of the step before. Choices that stop on a
  // token leave a token already drawn for them, which must be dropped; a row with logprobs in the same
  // steps is sampled on the host.
  const auto expected = llmctl::read_json_file(kGenerationModels / "qwen2-yarn" / "expected.json");
  std::vector<EngineRequest> requests;
  int index = 0;
  for (const auto& c : expected["cases"]) {
    const auto prompt = c["prompt_token_ids"].get<std::vector<TokenId>>();
    requests.push_back({fmt::format("greedy-{}", index), prompt, greedy_params(40, std::nullopt)});
    SamplingParams sampled;
    sampled.temperature = 0.8;
    sampled.seed = 1000 + static_cast<std::uint64_t>(index);
    sampled.n = 2;
    sampled.max_tokens = 30;
    sampled.ignore_eos = true;
    requests.push_back({fmt::format("sampled-{}", index), prompt, sampled});
    SamplingParams filtered = sampled;
    filtered.top_k = 40;
    filtered.top_p = 0.9;
    filtered.min_p = 0.02;
    filtered.repetition_penalty = 1.2;
    filtered.presence_penalty = 0.3;
    filtered.ignore_eos = false;
    filtered.min_tokens = 4;
    requests.push_back({fmt::format("filtered-{}", index), prompt, filtered});
    // Greedy, stopping at the token transformers' greedy run has at step 10.
    auto stopping = greedy_params(40, std::nullopt);
    stopping.stop_token_ids = {c["greedy"][10]["token"].get<TokenId>()};
    requests.push_back({fmt::format("stopping-{}", index), prompt, stopping});
    auto variant = prompt;
    variant.push_back(static_cast<TokenId>(index));
    requests.push_back({fmt::format("variant-{}", index), variant, greedy_params(20, index % 2 ? 2 : std::optional<int>())});
    ++index;
  }
  const auto batched = check_batched_equals_alone(requests);
  CHECK(batched.at("sampled-6/0").tokens != batched.at("sampled-6/1").tokens);
  int stopped = 0;
  for (const auto& [key, choice] : batched) stopped += choice.finish_reason == FinishReason::stop ? 1 : 0;
  CHECK(stopped > 0);
}

TEST_CASE("bans and penalties drawn by the backend equal the host sampler's, the pending token counted") {
  // Greedy rows pick the same token on either path from the same penalized logits, so a drawn row
  // (the token before it still pending when its penalties are laid out) must repeat the host's run.
  const auto expected = llmctl::read_json_file(kGenerationModels / "qwen2-yarn" / "expected.json");
  std::map<std::string, Choice> runs[2];
  for (const bool host : {false, true}) {
    Engine engine(small_engine("qwen2-yarn"));
    for (const auto& c : expected["cases"]) {
      auto params = greedy_params(40, host ? std::optional<int>(0) : std::nullopt);
      params.repetition_penalty = 1.5;
      params.frequency_penalty = 0.4;
      params.presence_penalty = 0.3;
      params.min_tokens = 6;
      params.ignore_eos = false;
      params.stop_token_ids = {c["greedy"][2]["token"].get<TokenId>()};  // banned for 6 tokens
      engine.add({c["name"], c["prompt_token_ids"].get<std::vector<TokenId>>(), params});
    }
    runs[host] = run_to_completion(engine);
  }
  REQUIRE(runs[0].size() == runs[1].size());
  int repeated = 0;
  for (const auto& [key, choice] : runs[1]) {
    INFO(key);
    CHECK(runs[0].at(key).tokens == choice.tokens);
    CHECK(runs[0].at(key).finish_reason == choice.finish_reason);
    for (std::size_t i = 1; i < choice.tokens.size(); ++i) repeated += choice.tokens[i] == choice.tokens[i - 1] ? 1 : 0;
  }
  // With penalties this strong, a token right after itself must be rare.
  CHECK(repeated < static_cast<int>(runs[1].size()) * 5);
}

TEST_CASE("stop strings, stop token ids, EOS, min_tokens and max_tokens end a choice as vLLM does") {
  const auto expected = llmctl::read_json_file(kGenerationModels / "llama3" / "expected.json");
  const auto& c = expected["cases"][6];  // 200 random tokens
  const auto prompt = c["prompt_token_ids"].get<std::vector<TokenId>>();
  Engine engine(small_engine("llama3"));
  const auto free_run = [&] {
    engine.add({"free", prompt, greedy_params(24, 0)});
    return run_to_completion(engine).at("free/0");
  }();
  REQUIRE(free_run.text.size() > 8);
  REQUIRE(free_run.finish_reason == FinishReason::length);

  SUBCASE("a stop string spanning tokens cuts the text before it") {
    // A stop string made of the end of one token's text and the start of the next.
    const auto* tokenizer = engine.tokenizer();
    std::string first = tokenizer->decode(std::span(free_run.tokens).first(3), true);
    std::string both = tokenizer->decode(std::span(free_run.tokens).first(5), true);
    REQUIRE(both.size() > first.size() + 1);
    const std::string stop = both.substr(first.size() - 1, 3);
    auto params = greedy_params(24, std::nullopt);
    params.stop = {stop};
    engine.add({"stop", prompt, params});
    const auto result = run_to_completion(engine).at("stop/0");
    CHECK(result.finish_reason == FinishReason::stop);
    CHECK(std::get<std::string>(result.stop_reason) == stop);
    CHECK(result.text == free_run.text.substr(0, free_run.text.find(stop)));
    CHECK(result.tokens.size() < free_run.tokens.size());

    params.include_stop_str_in_output = true;
    engine.add({"stop-kept", prompt, params});
    CHECK(run_to_completion(engine).at("stop-kept/0").text == free_run.text.substr(0, free_run.text.find(stop) + stop.size()));
  }
  SUBCASE("a stop token id ends the choice and is kept in the ids, not the text") {
    auto params = greedy_params(24, std::nullopt);
    params.stop_token_ids = {free_run.tokens[4]};
    engine.add({"ids", prompt, params});
    const auto result = run_to_completion(engine).at("ids/0");
    const auto first = std::find(free_run.tokens.begin(), free_run.tokens.end(), free_run.tokens[4]) - free_run.tokens.begin();
    CHECK(result.tokens.size() == static_cast<std::size_t>(first + 1));
    CHECK(std::get<TokenId>(result.stop_reason) == free_run.tokens[4]);
    auto shorter = greedy_params(static_cast<int>(first), std::nullopt);
    engine.add({"shorter", prompt, shorter});
    CHECK(result.text == run_to_completion(engine).at("shorter/0").text);
  }
  SUBCASE("EOS ends the choice unless ignore_eos, and its text is left out") {
    // In transformers' greedy continuation of this prompt, EOS (<|im_end|>, id 2) comes at step 21.
    const auto& eos_case = expected["cases"][3];
    const auto eos_prompt = eos_case["prompt_token_ids"].get<std::vector<TokenId>>();
    REQUIRE(eos_case["greedy"][21]["token"] == 2);
    REQUIRE(engine.eos_token_ids().front() == 2);
    auto params = greedy_params(24, std::nullopt);
    params.ignore_eos = false;
    engine.add({"eos", eos_prompt, params});
    const auto result = run_to_completion(engine).at("eos/0");
    CHECK(result.finish_reason == FinishReason::stop);
    CHECK(std::holds_alternative<std::monostate>(result.stop_reason));
    REQUIRE(result.tokens.size() == 22);
    CHECK(result.tokens.back() == 2);
    // The text is that of the 21 tokens before EOS.
    auto shorter = greedy_params(21, std::nullopt);
    engine.add({"21", eos_prompt, shorter});
    CHECK(result.text == run_to_completion(engine).at("21/0").text);

    // min_tokens bans EOS until 23 tokens exist: the choice runs to max_tokens instead.
    params.min_tokens = 23;
    engine.add({"min", eos_prompt, params});
    const auto held = run_to_completion(engine).at("min/0");
    CHECK(held.finish_reason == FinishReason::length);
    CHECK(held.tokens.size() == 24);
    CHECK(std::find(held.tokens.begin(), held.tokens.begin() + 23, 2) == held.tokens.begin() + 23);
  }
  SUBCASE("max_tokens and the model length cap the output") {
    auto params = greedy_params(5, std::nullopt);
    engine.add({"short", prompt, params});
    const auto result = run_to_completion(engine).at("short/0");
    CHECK(result.tokens == std::vector<TokenId>(free_run.tokens.begin(), free_run.tokens.begin() + 5));
    CHECK(result.finish_reason == FinishReason::length);

    auto config = small_engine("llama3");
    config.limits.max_model_len = 203;
    Engine capped(config);
    capped.add({"capped", prompt, greedy_params(24, 0)});
    CHECK(run_to_completion(capped).at("capped/0").tokens.size() == 3);
  }
}

TEST_CASE("unseeded sampling repeats when the same work is run again (the engine's seed)") {
  auto params = greedy_params(20, std::nullopt);
  params.temperature = 1.0;
  auto run = [&](std::uint64_t seed) {
    auto config = small_engine("llama3");
    config.seed = seed;
    Engine engine(config);
    engine.add({"a", {5, 6, 7}, params});
    engine.add({"b", {5, 6, 7}, params});
    auto results = run_to_completion(engine);
    CHECK(results.at("a/0").tokens != results.at("b/0").tokens);  // two requests, two streams
    return results.at("a/0").tokens;
  };
  CHECK(run(0) == run(0));
  CHECK(run(0) != run(1));
}

TEST_CASE("abort ends a request with finish reason abort and frees its blocks") {
  Engine engine(small_engine("qwen3"));
  engine.add({"a", std::vector<TokenId>(100, 7), greedy_params(100, 0)});
  engine.add({"b", std::vector<TokenId>(50, 9), greedy_params(3, 0)});
  engine.step();
  engine.abort("a");
  const auto results = run_to_completion(engine);
  CHECK(results.at("a/0").finish_reason == FinishReason::abort);
  CHECK(results.at("b/0").finish_reason == FinishReason::length);
}

TEST_CASE("bad requests are errors in vLLM's words, before anything runs") {
  auto config = small_engine("qwen3");
  config.limits.max_model_len = 128;
  Engine engine(config);
  CHECK_THROWS_WITH_AS(engine.add({"long", std::vector<TokenId>(129, 5), greedy_params(4)}),
                       Contains("The decoder prompt (length 129) is longer than the maximum model length of 128"), llmctl::Error);
  CHECK_THROWS_WITH_AS(engine.add({"full", std::vector<TokenId>(128, 5), greedy_params(4)}),
                       Contains("no token can be generated"), llmctl::Error);
  CHECK_THROWS_WITH_AS(engine.add({"empty", {}, greedy_params(4)}), Contains("prompt cannot be empty"), llmctl::Error);
  CHECK_THROWS_WITH_AS(engine.add({"vocab", {1, 320}, greedy_params(4)}), Contains("Token id 320 is out of vocabulary"),
                       llmctl::Error);
  CHECK_THROWS_WITH_AS(engine.add({"logprobs", {1}, greedy_params(4, 21)}), Contains("greater than max allowed: 20"),
                       llmctl::Error);
  CHECK_THROWS_WITH_AS(engine.add({"all", {1}, greedy_params(4, -1)}), Contains("logprobs of 320, which is greater"),
                       llmctl::Error);
  auto stop_ids = greedy_params(4);
  stop_ids.stop_token_ids = {5, 400};
  CHECK_THROWS_WITH_AS(engine.add({"stop", {1}, stop_ids}), Contains("token_id(s) [400] in stop_token_ids contain out-of-vocab"),
                       llmctl::Error);
  auto bad_stop = greedy_params(4);
  bad_stop.stop = {"\xff"};
  CHECK_THROWS_WITH_AS(engine.add({"utf8", {1}, bad_stop}), Contains("stop strings must be valid UTF-8"), llmctl::Error);
  engine.add({"x", {1, 2}, greedy_params(2)});
  CHECK_THROWS_WITH_AS(engine.add({"x", {1, 2}, greedy_params(2)}), Contains("already in use"), llmctl::Error);
  CHECK_FALSE(run_to_completion(engine).empty());
}

TEST_CASE("an engine whose KV cache cannot hold one sequence of max_model_len refuses to start") {
  auto config = small_engine("qwen3");
  config.num_blocks = 4;
  CHECK_THROWS_WITH_AS(Engine{config}, Contains("cannot hold one sequence of the maximum model length 512"), llmctl::Error);
}
