#pragma once

#include "weights/host_tensor.hpp"
#include "weights/safetensors.hpp"

#include <filesystem>
#include <vector>

namespace llmctl::engine {

// PyTorch .bin checkpoints as torch.save (torch >= 1.6) writes them: a zip archive holding
// <prefix>/data.pkl (the pickled state dict, read with the restricted unpickler of weights/pickle.hpp,
// which never runs code), <prefix>/byteorder and one record <prefix>/data/<key> per storage. <prefix> is
// the archive's single top-level folder ("archive", or the stem of the file name that torch.save was
// given). The legacy pre-1.6 format (a bare pickle stream) is refused with a hint to re-save or convert.

// The tensors of the state dict, in pickle order, from data.pkl and the zip directory alone: storage
// records are checked to exist with the size their storage needs, but no tensor data is read. The byte
// range fields `begin` and `end` of TensorInfo describe safetensors' data section and are 0 here.
std::vector<TensorInfo> list_pytorch_bin_tensors(const std::filesystem::path& file);

// Calls `visit` once per tensor of the state dict, in pickle order, with its bytes row-major and
// contiguous: strided views (a transposed weight, a slice at an offset) are copied out of their storage,
// and tensors that share one storage (tied weights) are each delivered. A storage is read once and kept
// only until the last tensor that views it has been visited. Damage of any kind is an llmctl::Error
// naming the file.
void read_pytorch_bin(const std::filesystem::path& file, const TensorVisitor& visit);

}  // namespace llmctl::engine
