#pragma once

#include "weights/dtype.hpp"

#include <cstddef>
#include <cstdint>
#include <span>

namespace llmctl::engine {

// True for the dtypes weights can be converted between: f32, f16, bf16 (and f64 as a source).
bool is_convertible_float(DType dtype);

// Converts `count` elements from `from` to `to`, rounding to nearest even as torch's .to() does.
// Throws llmctl::Error when either dtype is not a convertible float type.
void convert_elements(DType from, const std::byte* source, DType to, std::byte* destination, std::size_t count);

float bf16_to_float(std::uint16_t bits);
float f16_to_float(std::uint16_t bits);
std::uint16_t float_to_bf16(float value);
std::uint16_t float_to_f16(float value);

}  // namespace llmctl::engine
