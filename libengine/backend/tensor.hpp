#pragma once

#include "weights/dtype.hpp"

#include <cstddef>
#include <cstdint>
#include <memory>

namespace llmctl::engine {

// A row-major matrix in a backend's memory (host memory for the CPU backend, device memory for CUDA).
// Every tensor the model uses is two-dimensional: activations are [tokens, features], weights
// [out features, in features], a layer's KV cache [slots, kv heads * head dim]. Vectors (norm weights,
// biases) are [n, 1] columns, so that fused ones (the q, k and v biases) are filled row by row like the
// fused weights.
// Copies and row slices share the allocation.
struct Tensor {
  std::shared_ptr<std::byte> storage;
  std::byte* data = nullptr;
  DType dtype = DType::f32;
  std::int64_t rows = 0;
  std::int64_t cols = 0;

  explicit operator bool() const { return data != nullptr; }
  std::int64_t elements() const { return rows * cols; }
  std::size_t row_bytes() const { return static_cast<std::size_t>(cols) * bits(dtype) / 8; }
  std::size_t bytes() const { return row_bytes() * static_cast<std::size_t>(rows); }

  // Rows [first, first + count) as a tensor of their own.
  Tensor slice_rows(std::int64_t first, std::int64_t count) const {
    Tensor view = *this;
    view.data = data + static_cast<std::size_t>(first) * row_bytes();
    view.rows = count;
    return view;
  }

  template <typename T>
  T* as() const {
    return reinterpret_cast<T*>(data);
  }
};

}  // namespace llmctl::engine
