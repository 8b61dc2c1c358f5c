#include "backend/device_query.hpp"

namespace llmctl::engine {

// A build without the CUDA backend sees no GPU.
std::optional<DeviceInfo> query_device(int) { return std::nullopt; }

std::optional<DeviceCeilings> measure_device_ceilings() { return std::nullopt; }

}  // namespace llmctl::engine
