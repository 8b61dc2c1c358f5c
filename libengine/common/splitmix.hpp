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

// Chris Wellons' lowbias32: a cheap 32-bit mixer, for the sampler's per-token noise (a 64-bit multiply
// costs several 32-bit ones on a GPU). kernels/sampling.cu has the device twin.
inline std::uint32_t mix32(std::uint32_t x) {
  x = (x ^ (x >> 16)) * 0x7feb352du;
  x = (x ^ (x >> 15)) * 0x846ca68bu;
  return x ^ (x >> 16);
}

}  // namespace llmctl
