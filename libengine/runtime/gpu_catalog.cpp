#include "runtime/gpu_catalog.hpp"

#include "common/error.hpp"
#include "common/text.hpp"

#include <fmt/format.h>

#include <algorithm>
#include <utility>

namespace llmctl::engine {
namespace {

constexpr std::uint64_t MiB = 1024ull * 1024;

// Totals as the CUDA runtime reports them, which is what the budget is a fraction of. The runtime
// reports less than nvidia-smi: H200 150,109,880,320 bytes against nvidia-smi's 143,771 MiB, H100 80GB
// HBM3 85,017,493,504 bytes against 81,559 MiB (both read on the GPU machine, driver 580). For the other
// boards only nvidia-smi's total is known here, so their figures are up to ~0.6 GiB optimistic.
const std::vector<GpuSpec> kCatalog = {
    {"h200", "NVIDIA H200", 150'109'880'320, false},
    {"h100-80g", "NVIDIA H100 80GB HBM3", 85'017'493'504, false},
    {"a100-80g", "NVIDIA A100-SXM4-80GB", 81'920 * MiB, true},
    {"a100-40g", "NVIDIA A100-SXM4-40GB", 40'960 * MiB, true},
    {"l40s", "NVIDIA L40S", 46'068 * MiB, false},
    {"a6000", "NVIDIA RTX A6000", 49'140 * MiB, false},
    {"l4", "NVIDIA L4", 23'034 * MiB, false},
    {"a10g", "NVIDIA A10G", 23'028 * MiB, false},
    {"rtx4090", "NVIDIA GeForce RTX 4090", 24'564 * MiB, false},
    {"rtx3090", "NVIDIA GeForce RTX 3090", 24'576 * MiB, false},
    {"t4", "Tesla T4", 15'360 * MiB, false},
};

const std::vector<std::pair<std::string_view, std::string_view>> kAliases = {
    {"h100", "h100-80g"}, {"h100-sxm", "h100-80g"}, {"h200-141g", "h200"}, {"a100", "a100-80g"},
    {"4090", "rtx4090"},  {"3090", "rtx3090"},      {"a10", "a10g"},
};

}  // namespace

const std::vector<GpuSpec>& gpu_catalog() { return kCatalog; }

const GpuSpec& find_gpu(std::string_view id) {
  const std::string wanted = to_lower(id);
  std::string_view resolved = wanted;
  for (const auto& [alias, target] : kAliases)
    if (alias == wanted) resolved = target;
  for (const auto& gpu : kCatalog)
    if (gpu.id == resolved) return gpu;
  std::vector<std::string_view> ids;
  for (const auto& gpu : kCatalog) ids.push_back(gpu.id);
  throw Error(fmt::format("unknown GPU '{}'; did you mean '{}'? (known: {}; or give --gpu-memory GiB)", id,
                          closest_match(wanted, ids), known_gpu_ids()));
}

std::string known_gpu_ids() {
  std::string ids;
  for (const auto& gpu : kCatalog) ids += (ids.empty() ? "" : ", ") + std::string(gpu.id);
  return ids;
}

}  // namespace llmctl::engine
