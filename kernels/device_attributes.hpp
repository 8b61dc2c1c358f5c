#pragma once

#include <cuda_runtime_api.h>

namespace llmctl::kernels {

// Of the current device, read once: the kernels choose their variant and grid by them.
int compute_capability_major();
int multiprocessor_count();

}  // namespace llmctl::kernels
