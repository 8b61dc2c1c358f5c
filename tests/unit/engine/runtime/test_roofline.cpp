#include "runtime/roofline.hpp"

#include "support/test_files.hpp"

#include <doctest/doctest.h>

using namespace llmctl::engine;

TEST_CASE("the roofline of Qwen2.5-7B: weights read once per decode step, 2 FLOPs per weight and token") {
  const auto config = load_model_config(llmctl::test::kFixtures / "configs" / "Qwen--Qwen2.5-7B-Instruct");
  const DeviceCeilings ceilings{4.0e12, 800.0e12};
  // 7,615,616,512 parameters; the 152,064 x 3,584 embedding table is only gathered.
  const double matmul_params = 7'615'616'512.0 - 152'064.0 * 3'584.0;
  const double kv_per_token = 2.0 * 28 * 4 * 128 * 2;  // 57,344 bytes

  const auto single = roofline(config, {1, 128, 1, 256, 2, 2}, ceilings);
  CHECK(single.decode_bytes == doctest::Approx(matmul_params * 2 + 128 * kv_per_token));
  CHECK(single.decode_seconds == doctest::Approx(single.decode_bytes / 4.0e12));  // memory-bound
  const double attention = 28 * 4.0 * 3584 * 128 * 129 / 2.0;
  CHECK(single.prefill_flops == doctest::Approx(2 * matmul_params * 128 + attention));

  // 512 sequences at most 256 at a time: two waves of decode steps, each step reading the weights once.
  const auto waves = roofline(config, {512, 16, 2, 256, 2, 2}, ceilings);
  const double step_weights = matmul_params * 2;
  CHECK(waves.decode_bytes == doctest::Approx(4 * step_weights + 2 * 256 * (16 + 17) * kv_per_token));
}
