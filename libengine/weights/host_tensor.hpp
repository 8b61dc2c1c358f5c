#pragma once

#include "weights/dtype.hpp"

#include <cstddef>
#include <cstdint>
#include <functional>
#include <span>
#include <string>
#include <vector>

namespace llmctl::engine {

// One tensor of a checkpoint as it lies in host memory: row-major and contiguous, in the dtype the file
// stores. `data` stays valid only for the duration of the visitor call that receives it.
struct HostTensor {
  DType dtype;
  std::vector<std::int64_t> shape;
  std::span<const std::byte> data;
};

// Called once per tensor of a checkpoint file, in file order.
using TensorVisitor = std::function<void(const std::string& name, const HostTensor& tensor)>;

}  // namespace llmctl::engine
