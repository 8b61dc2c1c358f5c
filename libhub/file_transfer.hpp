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

// Where one file goes.
struct TransferTarget {
  std::filesystem::path destination;  // the final name, which only complete and verified bytes get
  std::filesystem::path partial;      // bytes on their way (and `partial`.json, the resume record)
  std::filesystem::path lock;         // an advisory lock shared with other processes
  bool content_addressed = false;     // the final name is the hash: a file there is the right one
};

// Downloads `file` to `target.destination`, which appears only complete and verified (sha256 or git
// blob sha1): bytes go to the partial file, parallel Range chunks record their progress beside it, so
// a later run (after a crash or kill -9) resumes with the chunks already there; the hash is checked
// and the file renamed into place. Another process on the same file is waited for (the lock), and
// what it left is used only if verified. A 403 from a CDN (an expired signed URL) re-resolves the file
// and goes on from the chunk it was at. `bytes_done` counts progress for a display. Returns false
// when no bytes had to be fetched (the file was there and right, unless `force`). Throws
// llmctl::Error when the file cannot be had.
bool download_file(Source& source, const Snapshot& snapshot, const RemoteFile& file, const TransferTarget& target,
                   const TransferOptions& options, bool force, std::atomic<std::uint64_t>& bytes_done);

}  // namespace llmctl::hub
