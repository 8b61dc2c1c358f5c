#pragma once

#include <cstdint>
#include <optional>
#include <string_view>

namespace llmctl::engine {

// Element types of checkpoint tensors, named as safetensors names them.
enum class DType { bool8, u8, i8, u16, i16, u32, i32, u64, i64, f16, bf16, f32, f64, f8_e4m3, f8_e5m2, f8_e8m0, f4 };

struct DTypeInfo {
  DType dtype;
  std::string_view safetensors_name;  // "BF16"
  unsigned bits;                      // bits per element (4 for F4)
};

const DTypeInfo& info(DType dtype);
std::string_view name(DType dtype);  // safetensors name
unsigned bits(DType dtype);

// "BF16", "F8_E4M3", ... as safetensors writes them; nullopt for anything else.
std::optional<DType> dtype_from_safetensors(std::string_view name);

// torch dtype names of config.json ("bfloat16", "float16", "float32", "half", "float", also with a
// "torch." prefix); nullopt for anything else.
std::optional<DType> dtype_from_torch_name(std::string_view name);

// "bfloat16", "float16", "float32" for the dtypes config.json names; the safetensors name otherwise.
std::string_view torch_name(DType dtype);

}  // namespace llmctl::engine
