#include "api/logprobs.hpp"

#include <doctest/doctest.h>

#include <limits>
#include <vector>

using namespace llmctl;
using namespace llmctl::api;
using engine::SampledToken;

namespace {

const engine::Tokenizer& qwen() {
  static const auto tokenizer = engine::Tokenizer::load(LLMCTL_TOKENIZER_DIR "/qwen2_5/tokenizer.json");
  return tokenizer;
}

// Qwen2.5 ids: "Hello", " world", "Paris", ".", the two halves of "𝄞" (each decodes alone to U+FFFD),
// "😀", "你好".
constexpr TokenId kHello = 9707, kWorld = 1879, kParis = 59604, kDot = 13, kClefHead = 124596, kClefTail = 252,
                  kGrin = 141334, kNiHao = 108386;

constexpr float kMinusInf = -std::numeric_limits<float>::infinity();

}  // namespace

TEST_CASE("single-token strings are the token's own decode, special tokens kept, or token_id:<id> without a tokenizer") {
  CHECK(logprob_token_string(kWorld, &qwen()) == " world");
  CHECK(logprob_token_string(151645, &qwen()) == "<|im_end|>");
  CHECK(logprob_token_string(kClefHead, &qwen()) == "\xEF\xBF\xBD");
  CHECK(logprob_token_string(kClefTail, &qwen()) == "\xEF\xBF\xBD");
  CHECK(logprob_token_string(42, nullptr) == "token_id:42");
  CHECK(utf8_length("a😀你好\xEF\xBF\xBD") == 5);
  CHECK(utf8_length("") == 0);
}

TEST_CASE("completions logprobs: the sampled token heads each top_logprobs dict, -inf is clamped") {
  const std::vector<SampledToken> sampled{
      {kParis, -0.5f, 1, {{kParis, -0.5f}, {kDot, -1.25f}}},      // sampled among the top: 2 entries
      {kDot, kMinusInf, 5, {{kParis, -0.25f}, {kHello, -2.0f}}},  // not among them: 3
  };
  CHECK(completion_logprobs(sampled, 2, 3, &qwen()).dump() ==
        R"({"text_offset":[3,8],"token_logprobs":[-0.5,-9999.0],"tokens":["Paris","."],)"
        R"("top_logprobs":[{"Paris":-0.5,".":-1.25},{".":-9999.0,"Paris":-0.25,"Hello":-2.0}]})");
  // vLLM keeps dict entries i <= logprobs: the sampled token and `logprobs` more; -1 keeps none.
  CHECK(completion_logprobs(sampled, 1, 0, &qwen())["top_logprobs"].dump() ==
        R"([{"Paris":-0.5,".":-1.25},{".":-9999.0,"Paris":-0.25}])");
  CHECK(completion_logprobs(sampled, 0, 0, &qwen())["top_logprobs"].dump() == R"([{"Paris":-0.5},{".":-9999.0}])");
  CHECK(completion_logprobs(sampled, -1, 0, &qwen())["top_logprobs"].dump() == R"([{},{}])");
  CHECK(completion_logprobs({}, 2, 7, &qwen()).dump() ==
        R"({"text_offset":[],"token_logprobs":[],"tokens":[],"top_logprobs":[]})");
}

TEST_CASE("completions logprobs: offsets count characters, tokens that decode alike share one key") {
  const std::vector<SampledToken> sampled{
      {kGrin, -0.5f, 1, {}},
      {kNiHao, -1.5f, 1, {}},
      {kClefHead, -0.5f, 2, {{kClefTail, -0.25f}, {kClefHead, -0.5f}}},
      {kClefTail, -0.75f, 1, {{kClefTail, -0.75f}}},
  };
  CHECK(completion_logprobs(sampled, 2, 0, &qwen()).dump() ==
        "{\"text_offset\":[0,1,3,4],\"token_logprobs\":[-0.5,-1.5,-0.5,-0.75],"
        "\"tokens\":[\"😀\",\"你好\",\"\xEF\xBF\xBD\",\"\xEF\xBF\xBD\"],"
        "\"top_logprobs\":[{\"😀\":-0.5},{\"你好\":-1.5},{\"\xEF\xBF\xBD\":-0.25},{\"\xEF\xBF\xBD\":-0.75}]}");
}

TEST_CASE("completions logprobs without a tokenizer name tokens by id") {
  const std::vector<SampledToken> sampled{{5, -0.5f, 1, {{9, -0.25f}}}, {12, -1.5f, 1, {}}};
  CHECK(completion_logprobs(sampled, 1, 0, nullptr).dump() ==
        R"({"text_offset":[0,10],"token_logprobs":[-0.5,-1.5],"tokens":["token_id:5","token_id:12"],)"
        R"("top_logprobs":[{"token_id:5":-0.5,"token_id:9":-0.25},{"token_id:12":-1.5}]})");
}

TEST_CASE("chat logprobs: bytes of the token string, top_logprobs led by the sampled token") {
  const std::vector<SampledToken> sampled{
      {kParis, -0.5f, 1, {{kParis, -0.5f}, {kDot, -1.25f}}},
      {kDot, -3.5f, 7, {{kParis, -0.25f}, {kHello, -2.0f}}},  // ranked 7th, still listed first
  };
  CHECK(chat_logprobs(sampled, 2, &qwen()).dump() ==
        R"({"content":[{"token":"Paris","logprob":-0.5,"bytes":[80,97,114,105,115],"top_logprobs":[)"
        R"({"token":"Paris","logprob":-0.5,"bytes":[80,97,114,105,115]},{"token":".","logprob":-1.25,"bytes":[46]}]},)"
        R"({"token":".","logprob":-3.5,"bytes":[46],"top_logprobs":[{"token":".","logprob":-3.5,"bytes":[46]},)"
        R"({"token":"Paris","logprob":-0.25,"bytes":[80,97,114,105,115]}]}]})");
  CHECK(chat_logprobs(sampled, 0, &qwen()).dump() ==
        R"({"content":[{"token":"Paris","logprob":-0.5,"bytes":[80,97,114,105,115],"top_logprobs":[]},)"
        R"({"token":".","logprob":-3.5,"bytes":[46],"top_logprobs":[]}]})");
  CHECK(chat_logprobs({}, 2, &qwen()).dump() == R"({"content":[]})");
  // -1 (the whole vocabulary): every entry the engine gave, the sampled token first.
  CHECK(chat_logprobs(std::span(sampled).subspan(1), -1, &qwen())["content"][0]["top_logprobs"].dump() ==
        R"([{"token":".","logprob":-3.5,"bytes":[46]},{"token":"Paris","logprob":-0.25,"bytes":[80,97,114,105,115]},)"
        R"({"token":"Hello","logprob":-2.0,"bytes":[72,101,108,108,111]}])");
}

TEST_CASE("chat logprobs: a character split over two tokens shows U+FFFD twice, -inf is clamped") {
  const std::vector<SampledToken> sampled{{kClefHead, kMinusInf, 3, {{kClefTail, -0.125f}}}, {kClefTail, -0.25f, 1, {}}};
  CHECK(chat_logprobs(sampled, 1, &qwen()).dump() ==
        "{\"content\":[{\"token\":\"\xEF\xBF\xBD\",\"logprob\":-9999.0,\"bytes\":[239,191,189],\"top_logprobs\":["
        "{\"token\":\"\xEF\xBF\xBD\",\"logprob\":-9999.0,\"bytes\":[239,191,189]}]},"
        "{\"token\":\"\xEF\xBF\xBD\",\"logprob\":-0.25,\"bytes\":[239,191,189],\"top_logprobs\":["
        "{\"token\":\"\xEF\xBF\xBD\",\"logprob\":-0.25,\"bytes\":[239,191,189]}]}]}");
}

TEST_CASE("chat logprobs without a tokenizer: ids as tokens, no bytes for the sampled token (vLLM has no decode)") {
  const std::vector<SampledToken> sampled{{5, -0.5f, 1, {{5, -0.5f}}}};
  CHECK(chat_logprobs(sampled, 1, nullptr).dump() ==
        R"({"content":[{"token":"token_id:5","logprob":-0.5,"bytes":null,"top_logprobs":[)"
        R"({"token":"token_id:5","logprob":-0.5,"bytes":[116,111,107,101,110,95,105,100,58,53]}]}]})");
}
