#include "runtime/engine_client.hpp"

#include "common/error.hpp"
#include "common/json_file.hpp"
#include "support/engine_runs.hpp"

#include <doctest/doctest.h>

#include <map>
#include <thread>

using namespace llmctl::engine;
using namespace llmctl::test;
using doctest::Contains;

namespace {

Choice collect(RequestStream& stream) {
  Choice choice;
  while (auto output = stream.next())
    for (auto& update : output->updates) {
      choice.tokens.insert(choice.tokens.end(), update.token_ids.begin(), update.token_ids.end());
      choice.text += update.text;
      if (update.finish_reason) choice.finish_reason = update.finish_reason;
    }
  return choice;
}

}  // namespace

TEST_CASE("threads submitting and streaming at once each get their own request's tokens") {
  const auto expected = llmctl::read_json_file(kGenerationModels / "mistral-window" / "expected.json");
  EngineClient client(small_engine("mistral-window"));
  const auto& cases = expected["cases"];
  std::vector<Choice> results(cases.size());
  {
    std::vector<std::jthread> threads;
    for (std::size_t i = 0; i < cases.size(); ++i)
      threads.emplace_back([&, i] {
        auto stream = client.submit(cases[i]["prompt_token_ids"].get<std::vector<TokenId>>(), greedy_params(24, 0));
        results[i] = collect(*stream);
      });
  }
  for (std::size_t i = 0; i < cases.size(); ++i) {
    std::vector<TokenId> reference;
    for (const auto& step : cases[i]["greedy"]) reference.push_back(step["token"]);
    INFO(cases[i]["name"]);
    // Greedy choices agree with transformers up to the first near tie (see test_engine.cpp).
    std::size_t same = 0;
    while (same < reference.size() && results[i].tokens[same] == reference[same]) ++same;
    if (same < reference.size()) CHECK(cases[i]["greedy"][same]["margin"].get<double>() <= 1e-3);
    CHECK(results[i].finish_reason == FinishReason::length);
  }
}

TEST_CASE("abort from another thread ends the stream with finish reason abort") {
  EngineClient client(small_engine("qwen3"));
  auto params = greedy_params(400, 0);
  auto stream = client.submit(std::vector<TokenId>(50, 3), params, "long");
  REQUIRE(stream->next().has_value());  // it is running
  client.abort("long");
  const auto rest = collect(*stream);
  CHECK(rest.finish_reason == FinishReason::abort);
  // The engine goes on serving.
  auto next = client.submit({1, 2, 3}, greedy_params(2, 0));
  CHECK(collect(*next).tokens.size() == 2);
}

TEST_CASE("bad requests are refused in the submitting thread; request ids are unique") {
  EngineClient client(small_engine("qwen3"));
  CHECK_THROWS_WITH_AS(client.submit({}, greedy_params(2)), Contains("cannot be empty"), llmctl::Error);
  SamplingParams bad;
  bad.top_p = 0.0;
  CHECK_THROWS_WITH_AS(client.submit({1}, bad), Contains("top_p must be in (0, 1]"), llmctl::Error);
  // The first request runs to the model's length (hundreds of steps), so it is still running when the
  // second arrives; a short one could finish first and free its id, as it should.
  auto first = client.submit({1, 2}, greedy_params(510, 0), "same");
  CHECK_THROWS_WITH_AS(client.submit({1, 2}, greedy_params(2, 0), "same"), Contains("already in use"), llmctl::Error);
  client.abort("same");
  CHECK(collect(*first).finish_reason == FinishReason::abort);
}

TEST_CASE("requests submitted together share one stream, which ends after the last of them") {
  EngineClient client(small_engine("qwen3"));
  std::vector<EngineRequest> requests;
  requests.push_back({"a", {1, 2, 3}, greedy_params(3, 0)});
  requests.push_back({"b", {4, 5}, greedy_params(7, 0)});
  auto stream = client.submit(std::move(requests));
  CHECK(stream->request_ids() == std::vector<std::string>{"a", "b"});
  std::map<std::string, std::size_t> tokens;
  std::map<std::string, bool> finished;
  while (auto output = stream->next()) {
    CHECK_FALSE(finished[output->request_id]);  // nothing after a request's last output
    for (const auto& update : output->updates) tokens[output->request_id] += update.token_ids.size();
    finished[output->request_id] = output->finished;
  }
  CHECK(tokens == std::map<std::string, std::size_t>{{"a", 3}, {"b", 7}});
  CHECK((finished["a"] && finished["b"]));
  CHECK(stream->wait_for(std::chrono::milliseconds(0)));  // ended: next() would not block

  // The stats of the step that finished them: nothing running, no block held, every token counted.
  const auto stats = client.stats();
  CHECK(stats.num_running == 0);
  CHECK(stats.num_waiting == 0);
  CHECK(stats.kv_cache_usage == 0.0);
  CHECK(stats.generation_tokens == 10);
  CHECK(stats.prompt_tokens == 5);
  CHECK(client.healthy());

  // All or nothing: a bad request or a repeated id queues none of them.
  std::vector<EngineRequest> bad;
  bad.push_back({"c", {1}, greedy_params(2, 0)});
  bad.push_back({"c", {2}, greedy_params(2, 0)});
  CHECK_THROWS_WITH_AS(client.submit(std::move(bad)), Contains("already in use"), llmctl::Error);
  std::vector<EngineRequest> empty_prompt;
  empty_prompt.push_back({"d", {1}, greedy_params(2, 0)});
  empty_prompt.push_back({"e", {}, greedy_params(2, 0)});
  CHECK_THROWS_WITH_AS(client.submit(std::move(empty_prompt)), Contains("cannot be empty"), llmctl::Error);
  auto after = client.submit({1, 2}, greedy_params(2, 0), "c");  // "c" and "d" were never queued
  CHECK(collect(*after).tokens.size() == 2);
}
