#pragma once

#include "kernels.hpp"

namespace llmctl::kernels {

struct Ceilings {
  double copy_bytes_per_second;  // a 1 GiB device-to-device copy, read plus written
  double gemm_flops_per_second;  // an 8192³ bf16 GEMM on random data through cuBLASLt
};

// Medians of 9 timed runs each, on GPU 0; well under a second on an H100. std::runtime_error on failure.
Ceilings measure_ceilings();

}  // namespace llmctl::kernels
