#include "weights/dtype_convert.hpp"

#include "common/error.hpp"

#include <doctest/doctest.h>

#include <bit>
#include <cmath>
#include <limits>
#include <vector>

using namespace llmctl::engine;

TEST_CASE("bf16 and fp16 decode exactly, subnormals, infinities and nan included") {
  CHECK(bf16_to_float(0x3f80) == 1.0f);
  CHECK(bf16_to_float(0xc040) == -3.0f);
  CHECK(f16_to_float(0x3c00) == 1.0f);
  CHECK(f16_to_float(0xc000) == -2.0f);
  CHECK(f16_to_float(0x7bff) == 65504.0f);
  CHECK(f16_to_float(0x0001) == std::ldexp(1.0f, -24));  // smallest subnormal
  CHECK(f16_to_float(0x03ff) == std::ldexp(1023.0f, -24));
  CHECK(std::isinf(f16_to_float(0x7c00)));
  CHECK(std::isnan(f16_to_float(0x7e00)));
  CHECK(std::signbit(f16_to_float(0x8000)));
}

TEST_CASE("rounding to bf16 and fp16 is to nearest, ties to even, as torch's .to() rounds") {
  CHECK(float_to_bf16(1.0f) == 0x3f80);
  // 1 + 2^-8 lies halfway between bf16 1.0 and 1 + 2^-7: ties go to the even mantissa (1.0).
  CHECK(float_to_bf16(1.0f + std::ldexp(1.0f, -8)) == 0x3f80);
  CHECK(float_to_bf16(1.0f + 3 * std::ldexp(1.0f, -8)) == 0x3f82);
  CHECK(std::isnan(bf16_to_float(float_to_bf16(std::numeric_limits<float>::quiet_NaN()))));
  CHECK(float_to_f16(1.0f) == 0x3c00);
  CHECK(float_to_f16(1.0f + std::ldexp(1.0f, -11)) == 0x3c00);  // tie to even
  CHECK(float_to_f16(1.0f + 3 * std::ldexp(1.0f, -11)) == 0x3c02);
  CHECK(float_to_f16(65520.0f) == 0x7c00);  // rounds past the largest half: infinity
  CHECK(float_to_f16(65519.0f) == 0x7bff);
  CHECK(float_to_f16(std::ldexp(1.0f, -25)) == 0x0000);  // tie between 0 and the smallest subnormal
  CHECK(float_to_f16(std::ldexp(3.0f, -25)) == 0x0002);
  CHECK(float_to_f16(-2.0f) == 0xc000);
  // Every half value survives a round trip through float.
  for (std::uint32_t bits = 0; bits < 0x10000; ++bits) {
    const auto h = static_cast<std::uint16_t>(bits);
    const float f = f16_to_float(h);
    if (!std::isnan(f)) REQUIRE(float_to_f16(f) == h);
  }
}

TEST_CASE("convert_elements converts between float types and refuses others") {
  const std::vector<float> source = {1.5f, -2.25f, 0.0f};
  std::vector<std::uint16_t> half(3);
  convert_elements(DType::f32, reinterpret_cast<const std::byte*>(source.data()), DType::bf16,
                   reinterpret_cast<std::byte*>(half.data()), 3);
  std::vector<float> back(3);
  convert_elements(DType::bf16, reinterpret_cast<const std::byte*>(half.data()), DType::f32,
                   reinterpret_cast<std::byte*>(back.data()), 3);
  CHECK(back == source);
  std::vector<std::int32_t> ints(3);
  CHECK_THROWS_WITH_AS(convert_elements(DType::i32, reinterpret_cast<const std::byte*>(ints.data()), DType::f32,
                                        reinterpret_cast<std::byte*>(back.data()), 3),
                       doctest::Contains("cannot convert I32"), llmctl::Error);
}
