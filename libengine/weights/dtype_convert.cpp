#include "weights/dtype_convert.hpp"

#include "common/error.hpp"

#include <fmt/format.h>

#include <bit>
#include <cmath>
#include <cstring>

namespace llmctl::engine {

bool is_convertible_float(DType dtype) {
  return dtype == DType::f32 || dtype == DType::f16 || dtype == DType::bf16 || dtype == DType::f64;
}

float bf16_to_float(std::uint16_t bits) { return std::bit_cast<float>(static_cast<std::uint32_t>(bits) << 16); }

float f16_to_float(std::uint16_t bits) {
  const std::uint32_t sign = static_cast<std::uint32_t>(bits & 0x8000u) << 16;
  const std::uint32_t exponent = (bits >> 10) & 0x1fu;
  std::uint32_t mantissa = bits & 0x3ffu;
  if (exponent == 0x1f) return std::bit_cast<float>(sign | 0x7f800000u | (mantissa << 13));  // inf, nan
  if (exponent != 0) return std::bit_cast<float>(sign | ((exponent + 112) << 23) | (mantissa << 13));
  if (mantissa == 0) return std::bit_cast<float>(sign);
  // Subnormal: exactly mantissa * 2^-24.
  const float magnitude = std::ldexp(static_cast<float>(mantissa), -24);
  return sign ? -magnitude : magnitude;
}

std::uint16_t float_to_bf16(float value) {
  std::uint32_t bits = std::bit_cast<std::uint32_t>(value);
  if (std::isnan(value)) return static_cast<std::uint16_t>((bits >> 16) | 0x40u);  // stays a quiet nan
  bits += 0x7fffu + ((bits >> 16) & 1u);  // round to nearest even
  return static_cast<std::uint16_t>(bits >> 16);
}

std::uint16_t float_to_f16(float value) {
  const std::uint32_t bits = std::bit_cast<std::uint32_t>(value);
  const std::uint16_t sign = static_cast<std::uint16_t>((bits >> 16) & 0x8000u);
  const std::uint32_t magnitude = bits & 0x7fffffffu;
  if (magnitude >= 0x7f800000u)  // inf or nan
    return static_cast<std::uint16_t>(sign | 0x7c00u | (magnitude > 0x7f800000u ? 0x200u : 0u));
  if (magnitude >= 0x477ff000u) return static_cast<std::uint16_t>(sign | 0x7c00u);  // rounds past 65504
  if (magnitude < 0x38800000u) {
    // Below the smallest normal half: round magnitude / 2^-24 to an integer, ties to even.
    const float scaled = std::bit_cast<float>(magnitude) * 16777216.0f;  // exact: a power of two
    return static_cast<std::uint16_t>(sign | static_cast<std::uint16_t>(std::nearbyint(scaled)));
  }
  const std::uint32_t rounded = magnitude + 0xfffu + ((magnitude >> 13) & 1u);
  return static_cast<std::uint16_t>(sign | ((rounded - 0x38000000u) >> 13));
}

namespace {

float load(DType dtype, const std::byte* source, std::size_t i) {
  switch (dtype) {
    case DType::f32: {
      float v;
      std::memcpy(&v, source + 4 * i, 4);
      return v;
    }
    case DType::f64: {
      double v;
      std::memcpy(&v, source + 8 * i, 8);
      return static_cast<float>(v);
    }
    default: {
      std::uint16_t v;
      std::memcpy(&v, source + 2 * i, 2);
      return dtype == DType::bf16 ? bf16_to_float(v) : f16_to_float(v);
    }
  }
}

void store(DType dtype, std::byte* destination, std::size_t i, float value) {
  if (dtype == DType::f32) {
    std::memcpy(destination + 4 * i, &value, 4);
  } else if (dtype == DType::f64) {
    const double v = value;
    std::memcpy(destination + 8 * i, &v, 8);
  } else {
    const std::uint16_t v = dtype == DType::bf16 ? float_to_bf16(value) : float_to_f16(value);
    std::memcpy(destination + 2 * i, &v, 2);
  }
}

}  // namespace

void convert_elements(DType from, const std::byte* source, DType to, std::byte* destination, std::size_t count) {
  for (const DType dtype : {from, to})
    if (!is_convertible_float(dtype))
      throw Error(fmt::format("cannot convert {} tensors (supported: F32, F16, BF16)", name(dtype)));
  if (from == to) {
    std::memcpy(destination, source, count * bits(from) / 8);
    return;
  }
  // f64 goes through float, as torch's conversion to 16-bit types does.
  for (std::size_t i = 0; i < count; ++i) store(to, destination, i, load(from, source, i));
}

}  // namespace llmctl::engine
