#pragma once

#include <cuda_runtime_api.h>

namespace llmctl::kernels {

// Of the current device, read once: the kernels choose their variant and grid by them.
int compute_capability_major();
int multiprocessor_count();
// The most shared memory one block may ask for (cudaFuncSetAttribute's limit): 227 KB on sm_90, 163 KB on
// sm_80, 99 KB on sm_86 and sm_89.
int shared_memory_per_block();

}  // namespace llmctl::kernels
