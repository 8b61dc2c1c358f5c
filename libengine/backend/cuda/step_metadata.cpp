#include "backend/cuda/step_metadata.hpp"

#include "common/error.hpp"

#include <fmt/format.h>

#include <algorithm>
#include <cstring>

namespace llmctl::engine {
namespace {

void check(cudaError_t error, std::string_view what) {
  if (error != cudaSuccess) throw Error(fmt::format("CUDA error in {}: {}", what, cudaGetErrorString(error)));
}

template <typename T>
void copy(const std::vector<T>& values, T* destination) {
  std::memcpy(destination, values.data(), values.size() * sizeof(T));
}

}  // namespace

StepMetadata::~StepMetadata() {
  if (sent_) cudaEventDestroy(sent_);
  if (host_) cudaFreeHost(host_);
  if (device_) cudaFree(device_);
}

void StepMetadata::reserve(const StepLimits& limits, const HeadLayout& heads) {
  if (host_) throw Error("internal: step metadata reserved twice");
  limits_ = limits;
  heads_ = {static_cast<int>(heads.q_heads), static_cast<int>(heads.kv_heads), static_cast<int>(heads.head_dim)};
  tiled_ = kernels::tensor_core_attention_supports(heads_.head_dim);
  // Every chunk's tiles cover its (token, q head) rows plus at most one partial tile.
  const std::int64_t tile_capacity =
      tiled_ ? limits.max_tokens * (heads.q_heads / heads.kv_heads) / kernels::kPrefillTileRows + limits.max_sequences + 1
             : 0;
  const std::size_t tokens = static_cast<std::size_t>(limits.max_tokens);
  const std::size_t sequences = static_cast<std::size_t>(limits.max_sequences);
  std::size_t offset = 0;
  auto place = [&offset](std::size_t bytes) {
    const std::size_t at = offset;
    offset += (bytes + 15) / 16 * 16;
    return at;
  };
  layout_.token_ids = place(tokens * 4);
  layout_.positions = place(tokens * 4);
  layout_.slots = place(tokens * 8);
  layout_.token_sequence = place(tokens * 4);
  layout_.context_lens = place(sequences * 4);
  layout_.logit_rows = place(sequences * 4);
  layout_.decode_rows = place(sequences * 4);
  layout_.prefill_rows = place(tokens * 4);
  layout_.prefill_tiles = place(static_cast<std::size_t>(tile_capacity) * sizeof(kernels::PrefillTile));
  layout_.block_tables = place(sequences * static_cast<std::size_t>(limits.max_blocks_per_sequence) * 4);
  layout_.end = offset;

  void* host_memory = nullptr;
  void* device_memory = nullptr;
  if (cudaHostAlloc(&host_memory, layout_.end, cudaHostAllocDefault) != cudaSuccess ||
      cudaMalloc(&device_memory, layout_.end) != cudaSuccess) {
    if (host_memory) cudaFreeHost(host_memory);
    cudaGetLastError();
    throw Error(fmt::format("out of memory allocating {} bytes of step metadata", layout_.end));
  }
  host_ = static_cast<std::byte*>(host_memory);
  device_ = static_cast<std::byte*>(device_memory);
  check(cudaEventCreateWithFlags(&sent_, cudaEventDisableTiming), "cudaEventCreate");

  view_.token_ids = device<std::int32_t>(layout_.token_ids);
  view_.positions = device<std::int32_t>(layout_.positions);
  view_.slot_mapping = device<std::int64_t>(layout_.slots);
  view_.token_sequence = device<std::int32_t>(layout_.token_sequence);
  view_.context_lens = device<std::int32_t>(layout_.context_lens);
  view_.block_tables = device<std::int32_t>(layout_.block_tables);
  view_.max_blocks_per_seq = static_cast<std::int32_t>(limits.max_blocks_per_sequence);
  logit_rows_ = device<std::int32_t>(layout_.logit_rows);
  decode_rows_ = device<std::int32_t>(layout_.decode_rows);
  prefill_rows_ = device<std::int32_t>(layout_.prefill_rows);
  prefill_tiles_ = device<kernels::PrefillTile>(layout_.prefill_tiles);
}

void StepMetadata::write(const StepBatch& batch, cudaStream_t stream) {
  const std::int64_t tokens = batch.num_tokens(), sequences = batch.num_sequences();
  if (!host_ || tokens > limits_.max_tokens || sequences > limits_.max_sequences)
    throw Error(fmt::format("internal: a step of {} tokens and {} sequences exceeds the reserved {} and {}", tokens,
                            sequences, limits_.max_tokens, limits_.max_sequences));
  check(cudaEventSynchronize(sent_), "the previous step's metadata transfer");

  copy(batch.token_ids, host<std::int32_t>(layout_.token_ids));
  copy(batch.positions, host<std::int32_t>(layout_.positions));
  copy(batch.slot_mapping, host<std::int64_t>(layout_.slots));
  copy(batch.context_lens, host<std::int32_t>(layout_.context_lens));
  copy(batch.logit_rows, host<std::int32_t>(layout_.logit_rows));
  auto* token_sequence = host<std::int32_t>(layout_.token_sequence);
  auto* decode_rows = host<std::int32_t>(layout_.decode_rows);
  auto* prefill_rows = host<std::int32_t>(layout_.prefill_rows);
  auto* tiles = host<kernels::PrefillTile>(layout_.prefill_tiles);
  auto* tables = host<std::int32_t>(layout_.block_tables);
  decode_count_ = 0;
  prefill_count_ = 0;
  prefill_tile_count_ = 0;
  for (std::int64_t s = 0; s < sequences; ++s) {
    const std::int32_t begin = batch.query_start[s], end = batch.query_start[s + 1];
    std::fill(token_sequence + begin, token_sequence + end, static_cast<std::int32_t>(s));
    // Kernels read a sequence's table only up to its context, so only that much is sent.
    const std::int64_t blocks = (batch.context_lens[s] + batch.block_size - 1) / batch.block_size;
    if (blocks > batch.max_blocks_per_seq || blocks > limits_.max_blocks_per_sequence)
      throw Error(fmt::format("internal: a sequence of {} tokens needs more than {} blocks", batch.context_lens[s],
                              std::min<std::int64_t>(batch.max_blocks_per_seq, limits_.max_blocks_per_sequence)));
    std::copy_n(batch.block_table(s), blocks, tables + s * limits_.max_blocks_per_sequence);
    if (end - begin == 1) {
      decode_rows[decode_count_++] = begin;
      continue;
    }
    for (std::int32_t row = begin; row < end; ++row) prefill_rows[prefill_count_++] = row;
    // Last tile first: a chunk's later tiles see more keys, and blocks start in list order, so the
    // longest ones start first and the shortest fill the last wave.
    if (!tiled_) continue;
    for (std::int32_t t = kernels::prefill_tiles(end - begin, heads_) - 1; t >= 0; --t)
      tiles[prefill_tile_count_++] = {static_cast<std::int32_t>(s), begin, end - begin, t * kernels::kPrefillTileRows};
  }
  view_.block_size = batch.block_size;
  view_.num_tokens = static_cast<std::int32_t>(tokens);
  const std::size_t bytes =
      layout_.block_tables + static_cast<std::size_t>(sequences * limits_.max_blocks_per_sequence) * sizeof(std::int32_t);
  check(cudaMemcpyAsync(device_, host_, bytes, cudaMemcpyHostToDevice, stream), "step metadata");
  check(cudaEventRecord(sent_, stream), "cudaEventRecord");
}

}  // namespace llmctl::engine
