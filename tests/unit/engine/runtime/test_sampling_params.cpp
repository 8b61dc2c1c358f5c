#include "runtime/sampling_params.hpp"

#include "common/error.hpp"

#include <doctest/doctest.h>

#include <functional>
#include <limits>
#include <string>

using namespace llmctl::engine;

namespace {

constexpr double kNaN = std::numeric_limits<double>::quiet_NaN();
constexpr double kInf = std::numeric_limits<double>::infinity();

// The message validate() throws for the defaults changed by `change`, or "" when it accepts them.
std::string error_for(const std::function<void(SamplingParams&)>& change) {
  SamplingParams params;
  change(params);
  try {
    params.validate();
  } catch (const llmctl::Error& error) {
    return error.what();
  }
  return "";
}

}  // namespace

TEST_CASE("the defaults are vLLM's and valid") {
  const SamplingParams params;
  CHECK(params.n == 1);
  CHECK(params.temperature == 1.0);
  CHECK(params.top_p == 1.0);
  CHECK(params.top_k == 0);
  CHECK(params.min_p == 0.0);
  CHECK(params.repetition_penalty == 1.0);
  CHECK(params.max_tokens == 16);
  CHECK_FALSE(params.logprobs);
  CHECK_FALSE(params.greedy());
  CHECK_NOTHROW(params.validate());
}

TEST_CASE("greedy below vLLM's epsilon") {
  SamplingParams params;
  params.temperature = 0.0;
  CHECK(params.greedy());
  params.temperature = 0.99e-5;
  CHECK(params.greedy());
  params.temperature = 1e-5;
  CHECK_FALSE(params.greedy());
}

TEST_CASE("validate: n") {
  CHECK(error_for([](auto& p) { p.n = 0; }) == "n must be at least 1, got 0.");
  CHECK(error_for([](auto& p) { p.n = 16385; }) == "n must be at most 16384, got 16385.");
  CHECK(error_for([](auto& p) { p.n = 4; }) == "");
  CHECK(error_for([](auto& p) {
          p.n = 2;
          p.temperature = 0.0;
        }) == "n must be 1 when using greedy sampling, got 2.");
}

TEST_CASE("validate: penalties, with numbers printed as Python prints them") {
  CHECK(error_for([](auto& p) { p.presence_penalty = 3.0; }) == "presence_penalty must be in [-2, 2], got 3.0.");
  CHECK(error_for([](auto& p) { p.presence_penalty = -2.5; }) == "presence_penalty must be in [-2, 2], got -2.5.");
  CHECK(error_for([](auto& p) { p.presence_penalty = -2.0; }) == "");
  CHECK(error_for([](auto& p) { p.frequency_penalty = 2.1; }) == "frequency_penalty must be in [-2, 2], got 2.1.");
  CHECK(error_for([](auto& p) { p.frequency_penalty = 2.0; }) == "");
  CHECK(error_for([](auto& p) { p.repetition_penalty = 0.0; }) ==
        "repetition_penalty must be greater than zero, got 0.0.");
  CHECK(error_for([](auto& p) { p.repetition_penalty = -1e-05; }) ==
        "repetition_penalty must be greater than zero, got -1e-05.");
  CHECK(error_for([](auto& p) { p.repetition_penalty = 1.3; }) == "");
}

TEST_CASE("validate: sampling knobs") {
  CHECK(error_for([](auto& p) { p.temperature = -0.5; }) == "temperature must be non-negative, got -0.5.");
  CHECK(error_for([](auto& p) { p.temperature = 2.5; }) == "temperature must be in [0, 2], got 2.5.");
  CHECK(error_for([](auto& p) { p.temperature = 2.0; }) == "");
  CHECK(error_for([](auto& p) { p.top_p = 0.0; }) == "top_p must be in (0, 1], got 0.0.");
  CHECK(error_for([](auto& p) { p.top_p = 1.5; }) == "top_p must be in (0, 1], got 1.5.");
  CHECK(error_for([](auto& p) { p.top_p = 1e-300; }) == "");
  CHECK(error_for([](auto& p) { p.top_k = -2; }) == "top_k must be 0 (disable), or at least 1, got -2.");
  CHECK(error_for([](auto& p) { p.top_k = -1; }) == "");
  CHECK(error_for([](auto& p) { p.top_k = 50; }) == "");
  CHECK(error_for([](auto& p) { p.min_p = -0.1; }) == "min_p must be in [0, 1], got -0.1.");
  CHECK(error_for([](auto& p) { p.min_p = 1.0000001; }) == "min_p must be in [0, 1], got 1.0000001.");
  CHECK(error_for([](auto& p) { p.min_p = 1.0; }) == "");
}

TEST_CASE("validate: lengths, logprobs and stops") {
  CHECK(error_for([](auto& p) { p.max_tokens = 0; }) == "max_tokens must be at least 1, got 0.");
  CHECK(error_for([](auto& p) { p.min_tokens = -1; }) == "min_tokens must be greater than or equal to 0, got -1.");
  CHECK(error_for([](auto& p) { p.min_tokens = 17; }) ==
        "min_tokens must be less than or equal to max_tokens=16, got 17.");
  CHECK(error_for([](auto& p) { p.min_tokens = 16; }) == "");
  CHECK(error_for([](auto& p) { p.logprobs = -2; }) == "logprobs must be non-negative or -1, got -2.");
  CHECK(error_for([](auto& p) { p.logprobs = -1; }) == "");
  CHECK(error_for([](auto& p) { p.logprobs = 0; }) == "");
  CHECK(error_for([](auto& p) { p.stop = {"a", ""}; }) == "stop cannot contain an empty string.");
  CHECK(error_for([](auto& p) { p.stop_token_ids = {2, -1, 7, -30}; }) ==
        "token_id(s) [-1, -30] in stop_token_ids contain out-of-vocab token ids.");
  CHECK(error_for([](auto& p) { p.stop_token_ids = {0, 151643}; }) == "");
}

TEST_CASE("validate: NaN and infinities are rejected everywhere") {
  CHECK(error_for([](auto& p) { p.presence_penalty = kNaN; }) == "presence_penalty must be in [-2, 2], got nan.");
  CHECK(error_for([](auto& p) { p.frequency_penalty = -kInf; }) == "frequency_penalty must be in [-2, 2], got -inf.");
  CHECK(error_for([](auto& p) { p.repetition_penalty = kNaN; }) ==
        "repetition_penalty must be a finite number, got nan.");
  CHECK(error_for([](auto& p) { p.repetition_penalty = kInf; }) ==
        "repetition_penalty must be a finite number, got inf.");
  CHECK(error_for([](auto& p) { p.temperature = kNaN; }) == "temperature must be a finite number, got nan.");
  CHECK(error_for([](auto& p) { p.temperature = kInf; }) == "temperature must be a finite number, got inf.");
  CHECK(error_for([](auto& p) { p.top_p = kNaN; }) == "top_p must be in (0, 1], got nan.");
  CHECK(error_for([](auto& p) { p.min_p = kNaN; }) == "min_p must be in [0, 1], got nan.");
  CHECK(error_for([](auto& p) { p.min_p = kInf; }) == "min_p must be in [0, 1], got inf.");
}

TEST_CASE("validate reports the first bad field in vLLM's order") {
  CHECK(error_for([](auto& p) {
          p.top_p = 2.0;
          p.presence_penalty = 9.0;
          p.max_tokens = 0;
        }) == "presence_penalty must be in [-2, 2], got 9.0.");
}
