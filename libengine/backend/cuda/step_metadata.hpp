#pragma once

#include "backend/backend.hpp"
#include "kernels.hpp"

#include <cuda_runtime_api.h>

#include <cstddef>
#include <cstdint>

namespace llmctl::engine {

// One step's metadata in device memory at addresses fixed for the engine's lifetime (so that CUDA
// graphs can replay over it): token ids, positions, slots, each token's sequence, context lengths,
// block tables, logit rows, and the attention work lists (decode tokens; prefill tokens and tiles).
// write() fills a pinned host buffer of the same layout and sends it in one transfer.
class StepMetadata {
 public:
  StepMetadata() = default;
  ~StepMetadata();
  StepMetadata(const StepMetadata&) = delete;
  StepMetadata& operator=(const StepMetadata&) = delete;

  // Sizes the buffers for the largest step (once; llmctl::Error when out of memory).
  void reserve(const StepLimits& limits, const HeadLayout& heads);
  // Lays `batch` out and enqueues its transfer on `stream`; first waits until the previous step's
  // transfer has left the host buffer.
  void write(const StepBatch& batch, cudaStream_t stream);

  const kernels::StepView& view() const { return view_; }
  const std::int32_t* logit_rows() const { return logit_rows_; }
  // Tokens of one-token sequences (decodes), for the paged kernel.
  const std::int32_t* decode_rows() const { return decode_rows_; }
  std::int64_t decode_count() const { return decode_count_; }
  // Tokens of longer sequences (prefill chunks).
  const std::int32_t* prefill_rows() const { return prefill_rows_; }
  std::int64_t prefill_count() const { return prefill_count_; }
  // The prefill chunks as kernels::PrefillTile entries, when the tensor-core kernel has the head dim
  // (prefill_tiled()).
  bool prefill_tiled() const { return tiled_; }
  const kernels::PrefillTile* prefill_tiles() const { return prefill_tiles_; }
  std::int64_t prefill_tile_count() const { return prefill_tile_count_; }

 private:
  // Byte offsets of each array in both buffers; block tables last, so a step copies only what it uses.
  struct Layout {
    std::size_t token_ids, positions, slots, token_sequence, context_lens, logit_rows, decode_rows, prefill_rows,
        prefill_tiles, block_tables, end;
  };
  template <typename T>
  T* host(std::size_t offset) const { return reinterpret_cast<T*>(host_ + offset); }
  template <typename T>
  T* device(std::size_t offset) const { return reinterpret_cast<T*>(device_ + offset); }

  StepLimits limits_{};
  kernels::Heads heads_{};
  bool tiled_ = false;
  Layout layout_{};
  std::byte* host_ = nullptr;
  std::byte* device_ = nullptr;
  cudaEvent_t sent_ = nullptr;  // the last transfer has read the host buffer

  kernels::StepView view_{};
  const std::int32_t* logit_rows_ = nullptr;
  const std::int32_t* decode_rows_ = nullptr;
  const std::int32_t* prefill_rows_ = nullptr;
  const kernels::PrefillTile* prefill_tiles_ = nullptr;
  std::int64_t decode_count_ = 0;
  std::int64_t prefill_count_ = 0;
  std::int64_t prefill_tile_count_ = 0;
};

}  // namespace llmctl::engine
