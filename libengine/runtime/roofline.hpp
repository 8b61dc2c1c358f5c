#pragma once

#include "model/model_config.hpp"

#include <cstdint>

namespace llmctl::engine {

// What the device can do at best, measured in the same run as the benchmark it judges.
struct DeviceCeilings {
  double copy_bytes_per_second;  // device-to-device copy, bytes read plus bytes written
  double gemm_flops_per_second;  // a large bf16 GEMM through cuBLASLt
};

// The shape of a benchmark: `requests` prompts of `input_len` tokens, each generating `output_len`,
// at most `max_num_seqs` decoding together.
struct Workload {
  std::int64_t requests;
  std::int64_t input_len;
  std::int64_t output_len;
  std::int64_t max_num_seqs;
  unsigned weight_bytes;  // per parameter (2 for bf16)
  unsigned kv_bytes;      // per K or V element
};

// The least time the workload can take on the device: prefill at the GEMM rate (2 FLOPs per parameter
// and token, plus attention), then each decode step at the slower of reading every weight and the KV
// cache once, or its FLOPs. A lower bound: measured time over it says how far from the hardware.
struct Roofline {
  double prefill_seconds;
  double decode_seconds;
  double prefill_flops;
  double decode_bytes;  // over every decode step
  double seconds() const { return prefill_seconds + decode_seconds; }
};

Roofline roofline(const ModelConfig& config, const Workload& workload, const DeviceCeilings& ceilings);

}  // namespace llmctl::engine
