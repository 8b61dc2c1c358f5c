#include "api/completion_response.hpp"

#include "common/error.hpp"
#include "support/completion_updates.hpp"

#include <doctest/doctest.h>

#include <string>
#include <vector>

using namespace llmctl;
using namespace llmctl::api;
using engine::CompletionUpdate;
using engine::FinishReason;
using engine::RequestOutput;
using engine::SampledToken;
using test::update;

namespace {

const engine::Tokenizer& qwen() {
  static const auto tokenizer = engine::Tokenizer::load(LLMCTL_TOKENIZER_DIR "/qwen2_5/tokenizer.json");
  return tokenizer;
}

// Qwen2.5 ids: "Hello", " world", " Paris", ".", and the two halves of "𝄞" (U+FFFD each alone).
constexpr TokenId kHello = 9707, kWorld = 1879, kParis = 12095, kDot = 13, kClefHead = 124596, kClefTail = 252;
const std::string kReplacement = "\xEF\xBF\xBD";

const ResponseHeader kHeader{"cmpl-abc", "m", 1700000000};

CompletionRequest make_request(int n, bool stream, bool continuous_usage = false) {
  CompletionRequest request;
  request.sampling.n = n;
  request.stream = {stream, stream, continuous_usage};
  return request;
}

RequestOutput output(std::vector<CompletionUpdate> updates, std::int64_t prompt_tokens, std::int64_t cached = 0) {
  // Built whole: assigning the id afterwards trips GCC 12's false -Wrestrict warning at -O2.
  return RequestOutput{"r", std::move(updates), false, prompt_tokens, cached};
}

std::string dump(const std::vector<nlohmann::ordered_json>& chunks) {
  std::string text;
  for (const auto& chunk : chunks) text += chunk.dump() + "\n";
  return text;
}

// Two prompts, n = 2: a stop string, length, a stop token id and EOS.
std::vector<std::pair<std::size_t, RequestOutput>> two_prompts() {
  return {
      {0, output({update(0, {10}, "A"), update(1, {11}, "B")}, 2, 1)},
      {1, output({update(0, {20}, "X", FinishReason::stop, TokenId{7}), update(1, {21}, "Y", FinishReason::stop)}, 3, 2)},
      {0, output({update(0, {12}, "a", FinishReason::stop, std::string("##")), update(1, {13}, "b", FinishReason::length)}, 2, 1)},
  };
}

const std::string kChunk = R"({"id":"cmpl-abc","object":"text_completion","created":1700000000,"model":"m","choices":[)";

}  // namespace

TEST_CASE("non-streaming: choices indexed prompt * n + choice, stop reasons, usage with the last prompt's cached tokens") {
  ResponseHeader header = kHeader;
  header.prompt_tokens_details = true;
  CompletionResponse response(make_request(2, false), header, {{"Hi", {1, 2}}, {std::nullopt, {3, 4, 5}}}, nullptr);
  for (const auto& [prompt, out] : two_prompts()) CHECK(response.add(prompt, out).empty());
  CHECK(response.response().dump() ==
        R"({"id":"cmpl-abc","object":"text_completion","created":1700000000,"model":"m","choices":[)"
        R"({"index":0,"text":"Aa","logprobs":null,"finish_reason":"stop","stop_reason":"##","prompt_logprobs":null},)"
        R"({"index":1,"text":"Bb","logprobs":null,"finish_reason":"length","stop_reason":null,"prompt_logprobs":null},)"
        R"({"index":2,"text":"X","logprobs":null,"finish_reason":"stop","stop_reason":7,"prompt_logprobs":null},)"
        R"({"index":3,"text":"Y","logprobs":null,"finish_reason":"stop","stop_reason":null,"prompt_logprobs":null}],)"
        R"("service_tier":null,"system_fingerprint":null,)"
        R"("usage":{"prompt_tokens":5,"total_tokens":11,"completion_tokens":6,"prompt_tokens_details":{"cached_tokens":2}},)"
        R"("kv_transfer_params":null})");

  CompletionResponse plain(make_request(2, false), kHeader, {{"Hi", {1, 2}}, {std::nullopt, {3, 4, 5}}}, nullptr);
  for (const auto& [prompt, out] : two_prompts()) plain.add(prompt, out);
  CHECK(plain.response()["usage"].dump() ==
        R"({"prompt_tokens":5,"total_tokens":11,"completion_tokens":6,"prompt_tokens_details":null})");
}

TEST_CASE("streaming: one chunk per choice step with continuous usage, then the usage chunk") {
  ResponseHeader header = kHeader;
  header.prompt_tokens_details = true;
  CompletionResponse response(make_request(2, true, true), header, {{"Hi", {1, 2}}, {std::nullopt, {3, 4, 5}}}, nullptr);
  std::string chunks;
  for (const auto& [prompt, out] : two_prompts()) chunks += dump(response.add(prompt, out));
  const std::string usage_null = R"(,"prompt_tokens_details":null}})";
  CHECK(chunks ==
        kChunk + R"({"index":0,"text":"A","logprobs":null,"finish_reason":null,"stop_reason":null}],)" +
            R"("usage":{"prompt_tokens":2,"total_tokens":3,"completion_tokens":1)" + usage_null + "\n" +
        kChunk + R"({"index":1,"text":"B","logprobs":null,"finish_reason":null,"stop_reason":null}],)" +
            R"("usage":{"prompt_tokens":2,"total_tokens":3,"completion_tokens":1)" + usage_null + "\n" +
        kChunk + R"({"index":2,"text":"X","logprobs":null,"finish_reason":"stop","stop_reason":7}],)" +
            R"("usage":{"prompt_tokens":3,"total_tokens":4,"completion_tokens":1)" + usage_null + "\n" +
        kChunk + R"({"index":3,"text":"Y","logprobs":null,"finish_reason":"stop","stop_reason":null}],)" +
            R"("usage":{"prompt_tokens":3,"total_tokens":4,"completion_tokens":1)" + usage_null + "\n" +
        kChunk + R"({"index":0,"text":"a","logprobs":null,"finish_reason":"stop","stop_reason":"##"}],)" +
            R"("usage":{"prompt_tokens":2,"total_tokens":4,"completion_tokens":2)" + usage_null + "\n" +
        kChunk + R"({"index":1,"text":"b","logprobs":null,"finish_reason":"length","stop_reason":null}],)" +
            R"("usage":{"prompt_tokens":2,"total_tokens":4,"completion_tokens":2)" + usage_null + "\n");
  // The stream reports the cached tokens of the first output, as vLLM does, and leaves out null fields.
  CHECK(response.usage_chunk().dump() ==
        R"({"id":"cmpl-abc","object":"text_completion","created":1700000000,"model":"m","choices":[],)"
        R"("usage":{"prompt_tokens":5,"total_tokens":11,"completion_tokens":6,"prompt_tokens_details":{"cached_tokens":1}}})");

  CompletionResponse plain(make_request(2, true), kHeader, {{"Hi", {1, 2}}, {std::nullopt, {3, 4, 5}}}, nullptr);
  CHECK(dump(plain.add(0, output({update(1, {11}, "B")}, 2, 1))) ==
        kChunk + R"({"index":1,"text":"B","logprobs":null,"finish_reason":null,"stop_reason":null}],"usage":null})" + "\n");
  CHECK(plain.usage_chunk().dump() ==
        R"({"id":"cmpl-abc","object":"text_completion","created":1700000000,"model":"m","choices":[],)"
        R"("usage":{"prompt_tokens":5,"total_tokens":6,"completion_tokens":1}})");
}

TEST_CASE("echo: the prompt comes before the first text; logprobs offsets count it, streaming and not") {
  CompletionRequest request = make_request(1, true);
  request.echo = true;
  request.sampling.logprobs = 1;
  const std::vector<PromptTokens> prompts{{"Hello world", {kHello, kWorld}}};
  const auto step1 = output({update(0, {kParis}, " Paris", {}, {}, {{kParis, -0.5f, 1, {{kParis, -0.5f}, {kDot, -1.25f}}}})}, 2);
  const auto step2 = output({update(0, {kDot}, ".", FinishReason::length, {}, {{kDot, -0.25f, 1, {{kDot, -0.25f}, {kParis, -2.0f}}}})}, 2);

  CompletionResponse streamed(request, kHeader, prompts, &qwen());
  CHECK(dump(streamed.add(0, step1)) ==
        kChunk + R"({"index":0,"text":"Hello world Paris","logprobs":{"text_offset":[11],"token_logprobs":[-0.5],)" +
            R"("tokens":[" Paris"],"top_logprobs":[{" Paris":-0.5,".":-1.25}]},)" +
            R"("finish_reason":null,"stop_reason":null}],"usage":null})" + "\n");
  CHECK(dump(streamed.add(0, step2)) ==
        kChunk + R"({"index":0,"text":".","logprobs":{"text_offset":[17],"token_logprobs":[-0.25],"tokens":["."],)" +
            R"("top_logprobs":[{".":-0.25," Paris":-2.0}]},"finish_reason":"length","stop_reason":null}],"usage":null})" + "\n");

  request.stream = {};
  CompletionResponse whole(request, kHeader, prompts, &qwen());
  whole.add(0, step1);
  whole.add(0, step2);
  CHECK(whole.response()["choices"].dump() ==
        R"([{"index":0,"text":"Hello world Paris.","logprobs":{"text_offset":[11,17],"token_logprobs":[-0.5,-0.25],)"
        R"("tokens":[" Paris","."],"top_logprobs":[{" Paris":-0.5,".":-1.25},{".":-0.25," Paris":-2.0}]},)"
        R"("finish_reason":"length","stop_reason":null,"prompt_logprobs":null}])");
  CHECK(whole.response()["usage"].dump() ==
        R"({"prompt_tokens":2,"total_tokens":4,"completion_tokens":2,"prompt_tokens_details":null})");

  // A prompt given as ids is echoed decoded, special tokens kept (vLLM detokenizes it for echo).
  request.sampling.logprobs.reset();
  CompletionResponse decoded(request, kHeader, {{std::nullopt, {151644, kHello, kWorld}}}, &qwen());
  decoded.add(0, step2);
  CHECK(decoded.response()["choices"][0]["text"] == "<|im_start|>Hello world.");
  // With n = 2 each choice echoes its prompt once.
  request = make_request(2, true);
  request.echo = true;
  CompletionResponse twice(request, kHeader, {{"Q:", {1}}}, nullptr);
  CHECK(dump(twice.add(0, output({update(0, {5}, " a"), update(1, {6}, " b")}, 1))) ==
        kChunk + R"({"index":0,"text":"Q: a","logprobs":null,"finish_reason":null,"stop_reason":null}],"usage":null})" + "\n" +
        kChunk + R"({"index":1,"text":"Q: b","logprobs":null,"finish_reason":null,"stop_reason":null}],"usage":null})" + "\n");
  CHECK(dump(twice.add(0, output({update(0, {7}, "!")}, 1))) ==
        kChunk + R"({"index":0,"text":"!","logprobs":null,"finish_reason":null,"stop_reason":null}],"usage":null})" + "\n");
}

TEST_CASE("streaming: a token without text still gets its chunk (vLLM's), with its logprobs") {
  CompletionRequest request = make_request(1, true);
  request.sampling.logprobs = 0;
  CompletionResponse response(request, kHeader, {{"Hello", {kHello}}}, &qwen());
  CHECK(dump(response.add(0, output({update(0, {kClefHead}, "", {}, {}, {{kClefHead, -0.5f, 2, {}}})}, 1))) ==
        kChunk + R"({"index":0,"text":"","logprobs":{"text_offset":[0],"token_logprobs":[-0.5],)" + R"("tokens":[")" +
            kReplacement + R"("],"top_logprobs":[{")" + kReplacement + R"(":-0.5}]},"finish_reason":null,"stop_reason":null}],"usage":null})" + "\n");
  CHECK(dump(response.add(0, output({update(0, {kClefTail}, "𝄞", {}, {}, {{kClefTail, -0.25f, 1, {}}})}, 1))) ==
        kChunk + R"({"index":0,"text":"𝄞","logprobs":{"text_offset":[0],"token_logprobs":[-0.25],)" + R"("tokens":[")" +
            kReplacement + R"("],"top_logprobs":[{")" + kReplacement + R"(":-0.25}]},"finish_reason":null,"stop_reason":null}],"usage":null})" + "\n");
  CHECK(dump(response.add(0, output({update(0, {kDot}, ".", FinishReason::stop, {}, {{kDot, -1.0f, 1, {}}})}, 1))) ==
        kChunk + R"({"index":0,"text":".","logprobs":{"text_offset":[1],"token_logprobs":[-1.0],"tokens":["."],)" +
            R"("top_logprobs":[{".":-1.0}]},"finish_reason":"stop","stop_reason":null}],"usage":null})" + "\n");
  // The last chunk of a choice is sent even when empty.
  CompletionResponse quiet(request, kHeader, {{"Hello", {kHello}}}, &qwen());
  CHECK(dump(quiet.add(0, output({update(0, {kClefHead}, "", FinishReason::length, {}, {{kClefHead, -0.5f, 2, {}}})}, 1))) ==
        kChunk + R"({"index":0,"text":"","logprobs":{"text_offset":[0],"token_logprobs":[-0.5],"tokens":[")" + kReplacement +
            R"("],"top_logprobs":[{")" + kReplacement + R"(":-0.5}]},"finish_reason":"length","stop_reason":null}],"usage":null})" +
            "\n");
}

TEST_CASE("abort ends the choices with finish_reason abort; nothing follows a finished choice") {
  CompletionResponse response(make_request(2, true), kHeader, {{"Hi", {1}}}, nullptr);
  response.add(0, output({update(0, {5}, "x"), update(1, {6}, "y")}, 1));
  CHECK(dump(response.add(0, output({update(0, {}, "", FinishReason::abort), update(1, {}, "", FinishReason::abort)}, 1))) ==
        kChunk + R"({"index":0,"text":"","logprobs":null,"finish_reason":"abort","stop_reason":null}],"usage":null})" + "\n" +
        kChunk + R"({"index":1,"text":"","logprobs":null,"finish_reason":"abort","stop_reason":null}],"usage":null})" + "\n");
  CHECK(response.add(0, output({update(0, {7}, "z")}, 1)).empty());
  CHECK(response.response()["choices"][0]["text"] == "x");
  CHECK(response.response()["usage"]["completion_tokens"] == 2);
}

TEST_CASE("outputs for a prompt or choice that does not exist are refused") {
  CompletionResponse response(make_request(2, true), kHeader, {{"Hi", {1}}}, nullptr);
  CHECK_THROWS_WITH_AS(response.add(1, output({update(0, {5}, "x")}, 1)), "internal: an output for prompt 1 of 1",
                       Error);
  CHECK_THROWS_WITH_AS(response.add(0, output({update(2, {5}, "x")}, 1)), "internal: an output for choice 2 of 2",
                       Error);
}
