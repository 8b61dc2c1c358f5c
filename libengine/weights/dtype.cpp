#include "weights/dtype.hpp"

#include <array>

namespace llmctl::engine {
namespace {

constexpr std::array<DTypeInfo, 17> kDTypes{{
    {DType::bool8, "BOOL", 8},     {DType::u8, "U8", 8},           {DType::i8, "I8", 8},
    {DType::u16, "U16", 16},       {DType::i16, "I16", 16},        {DType::u32, "U32", 32},
    {DType::i32, "I32", 32},       {DType::u64, "U64", 64},        {DType::i64, "I64", 64},
    {DType::f16, "F16", 16},       {DType::bf16, "BF16", 16},      {DType::f32, "F32", 32},
    {DType::f64, "F64", 64},       {DType::f8_e4m3, "F8_E4M3", 8}, {DType::f8_e5m2, "F8_E5M2", 8},
    {DType::f8_e8m0, "F8_E8M0", 8}, {DType::f4, "F4", 4},
}};

}  // namespace

const DTypeInfo& info(DType dtype) {
  for (const auto& entry : kDTypes)
    if (entry.dtype == dtype) return entry;
  return kDTypes[0];  // unreachable: every enumerator is in the table
}

std::string_view name(DType dtype) { return info(dtype).safetensors_name; }

unsigned bits(DType dtype) { return info(dtype).bits; }

std::optional<DType> dtype_from_safetensors(std::string_view name) {
  for (const auto& entry : kDTypes)
    if (entry.safetensors_name == name) return entry.dtype;
  return std::nullopt;
}

std::optional<DType> dtype_from_torch_name(std::string_view name) {
  if (name.starts_with("torch.")) name.remove_prefix(6);
  if (name == "bfloat16") return DType::bf16;
  if (name == "float16" || name == "half") return DType::f16;
  if (name == "float32" || name == "float") return DType::f32;
  return std::nullopt;
}

std::string_view torch_name(DType dtype) {
  switch (dtype) {
    case DType::bf16: return "bfloat16";
    case DType::f16: return "float16";
    case DType::f32: return "float32";
    default: return name(dtype);
  }
}

}  // namespace llmctl::engine
