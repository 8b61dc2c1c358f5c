#include "backend/backend.hpp"

#include "backend/cpu/cpu_backend.hpp"
#include "common/error.hpp"

#include <fmt/format.h>

namespace llmctl::engine {

std::unique_ptr<Backend> make_backend(std::string_view device) {
  if (device == "cpu") return std::make_unique<CpuBackend>();
  if (device == "cuda")
    throw Error("--device cuda: this build has no CUDA inference backend yet (device queries only); use --device cpu");
  throw Error(fmt::format("unknown device '{}' (expected cpu or cuda)", device));
}

}  // namespace llmctl::engine
