#pragma once

#include "libhub/source.hpp"

#include <atomic>
#include <cstdint>
#include <filesystem>

namespace llmctl::hub {

struct TransferOptions {
  int connections = 8;                         // parallel ranged GETs for one large file
  std::uint64_t chunk_bytes = 16ULL << 20;     // Range size; also the resume granularity
  int attempts = 3;                            // whole-file attempts when the hash does not match
};

// Downloads `file` to `destination`, which appears only complete and verified (sha256 or git blob
// sha1): bytes go to `destination.incomplete`, parallel Range chunks record their progress in
// `destination.incomplete.json`, so a later run (after a crash or kill -9) resumes with the chunks
// already there; the hash is checked and the file renamed into place. Another process downloading
// the same destination is waited for (an advisory lock on `lock_path`; correctness does not depend on
// it). A 403
// from a CDN (an expired signed URL) re-resolves the file and goes on from the chunk it was at.
// `bytes_done` counts progress for a display. Throws llmctl::Error when the file cannot be had.
void download_file(Source& source, const Snapshot& snapshot, const RemoteFile& file, const std::filesystem::path& destination,
                   const std::filesystem::path& lock_path, const TransferOptions& options, std::atomic<std::uint64_t>& bytes_done);

}  // namespace llmctl::hub
