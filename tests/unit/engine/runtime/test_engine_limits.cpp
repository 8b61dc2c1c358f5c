#include "runtime/engine_limits.hpp"

#include "common/error.hpp"

#include <doctest/doctest.h>

using namespace llmctl::engine;
using doctest::Contains;

namespace {
constexpr std::uint64_t GiB = 1ull << 30;
}

TEST_CASE("vLLM's defaults depend on the GPU") {
  const auto h100 = resolve_limits({}, 32768, 79 * GiB, false);
  CHECK(h100.max_model_len == 32768);
  CHECK(h100.max_num_batched_tokens == 8192);
  CHECK(h100.max_num_seqs == 1024);
  CHECK(h100.block_size == 16);
  CHECK(h100.gpu_memory_utilization == 0.9);
  const auto a100 = resolve_limits({}, 32768, 79 * GiB, true);
  CHECK(a100.max_num_batched_tokens == 2048);
  CHECK(a100.max_num_seqs == 256);
  const auto l4 = resolve_limits({}, 32768, 22 * GiB, false);
  CHECK(l4.max_num_batched_tokens == 2048);
  CHECK(l4.max_num_seqs == 256);
  EngineLimits chosen;
  chosen.max_model_len = 4096;
  chosen.max_num_seqs = 8;
  CHECK(resolve_limits(chosen, 32768, 79 * GiB, false).max_num_seqs == 8);
}

TEST_CASE("offline, vLLM's LLM class takes larger steps than its server") {
  EngineLimits offline;
  offline.usage = UsageContext::offline;
  const auto h100 = resolve_limits(offline, 32768, 79 * GiB, false);
  CHECK(h100.max_num_batched_tokens == 16384);
  CHECK(h100.max_num_seqs == 1024);
  const auto a100 = resolve_limits(offline, 32768, 79 * GiB, true);
  CHECK(a100.max_num_batched_tokens == 8192);
  CHECK(a100.max_num_seqs == 256);
  CHECK(resolve_limits(offline, 32768, 22 * GiB, false).max_num_batched_tokens == 8192);
  offline.max_num_batched_tokens = 4096;
  CHECK(resolve_limits(offline, 32768, 79 * GiB, false).max_num_batched_tokens == 4096);
}

TEST_CASE("bad limits name the flag") {
  EngineLimits limits;
  limits.max_model_len = 65536;
  CHECK_THROWS_WITH_AS(resolve_limits(limits, 32768, 79 * GiB, false),
                       Contains("--max-model-len 65536 is larger than the model's maximum length 32768"), llmctl::Error);
  limits = {};
  limits.gpu_memory_utilization = 1.5;
  CHECK_THROWS_WITH_AS(resolve_limits(limits, 32768, 79 * GiB, false), Contains("--gpu-memory-utilization must be in (0, 1]"), llmctl::Error);
  limits = {};
  limits.block_size = 24;
  CHECK_THROWS_WITH_AS(resolve_limits(limits, 32768, 79 * GiB, false), Contains("--block-size must be a power of two"), llmctl::Error);
  limits = {};
  limits.max_num_seqs = 512;
  limits.max_num_batched_tokens = 256;
  CHECK_THROWS_WITH_AS(resolve_limits(limits, 32768, 79 * GiB, false), Contains("must be at least --max-num-seqs"), llmctl::Error);
  limits = {};
  limits.max_num_seqs = -3;
  CHECK_THROWS_AS(resolve_limits(limits, 32768, 79 * GiB, false), llmctl::Error);
}
