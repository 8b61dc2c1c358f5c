#pragma once

#include <cstdint>

namespace llmctl {

// splitmix64: counters mixed into well-spread 64-bit values, for cache keys and reproducible random
// fills. (kernels/common.cuh has the device twin; the two must give the same values.)
inline constexpr std::uint64_t kSplitmixGamma = 0x9e3779b97f4a7c15ull;

inline std::uint64_t splitmix64(std::uint64_t x) {
  x = (x ^ (x >> 30)) * 0xbf58476d1ce4e5b9ull;
  x = (x ^ (x >> 27)) * 0x94d049bb133111ebull;
  return x ^ (x >> 31);
}

}  // namespace llmctl
