#include "api/context_length.hpp"

#include "support/api_failure.hpp"

#include <doctest/doctest.h>

using namespace llmctl::api;
using llmctl::test::api_failure;

TEST_CASE("a prompt that fits with its max_tokens passes, up to the last token") {
  CHECK(api_failure([] { check_context_length(4096, 100, 3996); }).status == 0);
  CHECK(api_failure([] { check_context_length(4096, 4095, std::nullopt); }).status == 0);
  CHECK(api_failure([] { check_context_length(4096, 4095, 1); }).status == 0);
  CHECK(api_failure([] { check_context_length(4096, 0, 4096); }).status == 0);
}

TEST_CASE("a prompt that leaves no room for a token gets vLLM's input-length message, with or without max_tokens") {
  const std::string message =
      "This model's maximum context length is 4096 tokens. However, your request has 4096 input tokens. Please reduce "
      "the length of the input messages.";
  for (const auto max_tokens : {std::optional<std::int64_t>(), std::optional<std::int64_t>(16)}) {
    const auto failure = api_failure([&] { check_context_length(4096, 4096, max_tokens); });
    CHECK(failure.status == 400);
    CHECK(failure.param.empty());
    CHECK(failure.message == message);
  }
  CHECK(api_failure([] { check_context_length(2048, 9000, 10); }).message ==
        "This model's maximum context length is 2048 tokens. However, your request has 9000 input tokens. Please reduce "
        "the length of the input messages.");
}

TEST_CASE("prompt + max_tokens past the context gets vLLM's max_tokens message") {
  const auto failure = api_failure([] { check_context_length(16384, 9591, 10000); });
  CHECK(failure.status == 400);
  CHECK(failure.param.empty());
  CHECK(failure.message ==
        "'max_tokens' or 'max_completion_tokens' is too large: 10000. This model's maximum context length is 16384 tokens "
        "and your request has 9591 input tokens (10000 > 16384 - 9591).");
  CHECK(api_failure([] { check_context_length(4096, 100, 3997); }).message ==
        "'max_tokens' or 'max_completion_tokens' is too large: 3997. This model's maximum context length is 4096 tokens "
        "and your request has 100 input tokens (3997 > 4096 - 100).");
}
