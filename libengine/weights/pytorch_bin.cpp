#include "weights/pytorch_bin.hpp"

#include "common/error.hpp"
#include "weights/pickle.hpp"

#include <fmt/format.h>
#include <zip.h>

#include <cstring>
#include <fstream>
#include <map>
#include <memory>
#include <optional>

namespace fs = std::filesystem;

namespace llmctl::engine {
namespace {

// data.pkl of a state dict takes a few hundred bytes per tensor; this is far beyond any real one.
constexpr std::uint64_t kMaxPickleBytes = 256ull << 20;

// A zip archive opened read-only with libzip; names are compared raw (torch writes ASCII).
class ZipArchive {
 public:
  explicit ZipArchive(const fs::path& file) : file_(file.string()) {
    int code = 0;
    zip_ = zip_open(file_.c_str(), ZIP_RDONLY, &code);
    if (zip_ != nullptr) return;
    if (code == ZIP_ER_NOZIP) refuse_non_zip();
    zip_error_t error;
    zip_error_init_with_code(&error, code);
    const std::string message = zip_error_strerror(&error);
    zip_error_fini(&error);
    throw Error(fmt::format("{}: cannot open the zip archive: {}", file_, message));
  }
  ~ZipArchive() { zip_discard(zip_); }
  ZipArchive(const ZipArchive&) = delete;
  ZipArchive& operator=(const ZipArchive&) = delete;

  const std::string& file() const { return file_; }

  std::vector<std::string> names() const {
    const auto count = zip_get_num_entries(zip_, 0);
    std::vector<std::string> names;
    for (zip_int64_t i = 0; i < count; ++i) {
      const char* name = zip_get_name(zip_, static_cast<zip_uint64_t>(i), ZIP_FL_ENC_RAW);
      if (name == nullptr) fail("cannot list the zip archive");
      names.emplace_back(name);
    }
    return names;
  }

  std::optional<zip_uint64_t> find(const std::string& name) const {
    const auto index = zip_name_locate(zip_, name.c_str(), ZIP_FL_ENC_RAW);
    if (index < 0) return std::nullopt;
    return static_cast<zip_uint64_t>(index);
  }

  std::uint64_t size(zip_uint64_t index, const std::string& name) const {
    zip_stat_t entry;
    if (zip_stat_index(zip_, index, 0, &entry) != 0 || (entry.valid & ZIP_STAT_SIZE) == 0) fail("cannot read the entry " + name);
    return entry.size;
  }

  // Reads exactly `size` bytes (the size the directory gives) of an entry.
  void read(zip_uint64_t index, const std::string& name, std::byte* out, std::uint64_t size) const {
    std::unique_ptr<zip_file_t, int (*)(zip_file_t*)> entry(zip_fopen_index(zip_, index, 0), zip_fclose);
    if (!entry) fail("cannot read the entry " + name);
    std::uint64_t done = 0;
    while (done < size) {
      const auto got = zip_fread(entry.get(), out + done, size - done);
      if (got < 0) throw Error(fmt::format("{}: cannot read the entry {}: {}", file_, name, zip_file_strerror(entry.get())));
      if (got == 0) break;
      done += static_cast<std::uint64_t>(got);
    }
    if (done != size) throw Error(fmt::format("{}: the entry {} is truncated", file_, name));
  }

  std::string read_small(zip_uint64_t index, const std::string& name, std::uint64_t limit) const {
    const auto bytes = size(index, name);
    if (bytes > limit) throw Error(fmt::format("{}: the entry {} is implausibly large ({} bytes)", file_, name, bytes));
    std::string text(static_cast<std::size_t>(bytes), '\0');
    read(index, name, reinterpret_cast<std::byte*>(text.data()), bytes);
    return text;
  }

 private:
  [[noreturn]] void fail(const std::string& what) const {
    throw Error(fmt::format("{}: {}: {}", file_, what, zip_strerror(zip_)));
  }

  // Before torch 1.6, torch.save wrote a bare pickle stream (it starts with the PROTO opcode 0x80).
  [[noreturn]] void refuse_non_zip() const {
    std::ifstream in(file_, std::ios::binary);
    const int first = in.get();
    if (first == 0x80)
      throw Error(fmt::format("{}: legacy (non-zip) PyTorch format is not supported; re-save it with torch>=1.6 or "
                              "convert to safetensors",
                              file_));
    if (first == 'P' && in.get() == 'K')
      throw Error(fmt::format("{}: damaged zip archive, its directory is missing (an incomplete download?)", file_));
    throw Error(fmt::format("{}: not a PyTorch checkpoint (not a zip archive)", file_));
  }

  std::string file_;
  zip_t* zip_ = nullptr;
};

struct StorageRecord {
  zip_uint64_t index;
  std::string name;
  std::uint64_t bytes;
};

// A checked torch.save archive: its state dict and, per storage key, the record holding the bytes.
struct BinCheckpoint {
  explicit BinCheckpoint(const fs::path& file) : zip(file) {}
  ZipArchive zip;
  std::vector<std::pair<std::string, PickledTensor>> tensors;
  std::map<std::string, StorageRecord> records;
};

std::uint64_t element_bytes(DType dtype) { return bits(dtype) / 8; }

std::string find_prefix(const ZipArchive& zip) {
  std::optional<std::string> prefix;
  for (const auto& name : zip.names()) {
    const auto slash = name.find('/');
    if (slash == std::string::npos || name.substr(slash) != "/data.pkl") continue;
    if (prefix)
      throw Error(fmt::format("{}: more than one data.pkl in the archive ({}/ and {}/)", zip.file(), *prefix,
                              name.substr(0, slash)));
    prefix = name.substr(0, slash);
  }
  if (!prefix) throw Error(fmt::format("{}: no data.pkl in the zip archive; not a torch.save checkpoint", zip.file()));
  return *prefix;
}

void open_checkpoint(BinCheckpoint& checkpoint) {
  const auto& zip = checkpoint.zip;
  const auto prefix = find_prefix(zip);
  // Storage bytes are in the writer's byte order; torch records it (older writers did not: little).
  if (const auto name = prefix + "/byteorder"; const auto index = zip.find(name)) {
    const auto order = zip.read_small(*index, name, 64);
    if (order == "big") throw Error(fmt::format("{}: big-endian checkpoints are not supported", zip.file()));
    if (order != "little") throw Error(fmt::format("{}: unknown byteorder '{}'", zip.file(), order));
  }
  const auto pickle_name = prefix + "/data.pkl";
  const auto pickle_bytes = zip.read_small(*zip.find(pickle_name), pickle_name, kMaxPickleBytes);
  checkpoint.tensors = state_dict_tensors(unpickle(pickle_bytes, zip.file()), zip.file());
  for (const auto& [tensor_name, tensor] : checkpoint.tensors) {
    const auto& storage = tensor.storage;
    if (checkpoint.records.contains(storage.key)) continue;
    auto name = prefix + "/data/" + storage.key;
    const auto index = zip.find(name);
    if (!index) throw Error(fmt::format("{}: storage record {} of tensor '{}' is missing", zip.file(), name, tensor_name));
    const auto bytes = zip.size(*index, name);
    const auto expected = storage.numel * element_bytes(storage.dtype);
    if (bytes != expected)
      throw Error(fmt::format("{}: storage record {} holds {} bytes, but {} elements of {} need {}", zip.file(), name, bytes,
                              storage.numel, engine::name(storage.dtype), expected));
    checkpoint.records.emplace(storage.key, StorageRecord{*index, std::move(name), bytes});
  }
}

struct LoadedStorage {
  std::unique_ptr<std::byte[]> bytes;
  std::size_t remaining_users = 0;
};

// Copies a strided view out of its storage, row by row; rows whose elements are adjacent are one copy.
void gather(const std::byte* storage, const PickledTensor& tensor, std::size_t element, std::byte* out) {
  const auto dims = tensor.shape.size();
  const std::uint64_t row = dims == 0 ? 1 : tensor.shape[dims - 1];
  const std::uint64_t row_stride = dims == 0 ? 1 : tensor.stride[dims - 1];
  std::vector<std::uint64_t> index(dims == 0 ? 0 : dims - 1, 0);
  while (true) {
    std::uint64_t start = tensor.offset;
    for (std::size_t d = 0; d < index.size(); ++d) start += index[d] * tensor.stride[d];
    if (row_stride == 1 || row == 1) {
      std::memcpy(out, storage + start * element, row * element);
      out += row * element;
    } else {
      for (std::uint64_t i = 0; i < row; ++i, out += element)
        std::memcpy(out, storage + (start + i * row_stride) * element, element);
    }
    std::size_t d = index.size();
    for (; d > 0; --d) {
      if (++index[d - 1] < tensor.shape[d - 1]) break;
      index[d - 1] = 0;
    }
    if (d == 0) return;
  }
}

}  // namespace

std::vector<TensorInfo> list_pytorch_bin_tensors(const fs::path& file) {
  BinCheckpoint checkpoint(file);
  open_checkpoint(checkpoint);
  std::vector<TensorInfo> tensors;
  for (const auto& [name, tensor] : checkpoint.tensors)
    tensors.push_back({name, tensor.storage.dtype, tensor.shape, tensor.elements(), 0, 0});
  return tensors;
}

void read_pytorch_bin(const fs::path& file, const TensorVisitor& visit) {
  BinCheckpoint checkpoint(file);
  open_checkpoint(checkpoint);
  std::map<std::string, LoadedStorage> loaded;
  for (const auto& [name, tensor] : checkpoint.tensors) ++loaded[tensor.storage.key].remaining_users;

  std::vector<std::byte> copy;
  for (const auto& [name, tensor] : checkpoint.tensors) {
    auto& storage = loaded.at(tensor.storage.key);
    if (!storage.bytes) {
      const auto& record = checkpoint.records.at(tensor.storage.key);
      storage.bytes.reset(new std::byte[record.bytes]);
      checkpoint.zip.read(record.index, record.name, storage.bytes.get(), record.bytes);
    }
    const auto element = element_bytes(tensor.storage.dtype);
    const auto bytes = tensor.elements() * element;
    HostTensor host{tensor.storage.dtype, std::vector<std::int64_t>(tensor.shape.begin(), tensor.shape.end()), {}};
    if (tensor.contiguous()) {
      host.data = {storage.bytes.get() + tensor.offset * element, bytes};
    } else {
      copy.resize(bytes);
      if (bytes > 0) gather(storage.bytes.get(), tensor, element, copy.data());
      host.data = {copy.data(), bytes};
    }
    visit(name, host);
    if (--storage.remaining_users == 0) storage.bytes.reset();
  }
}

}  // namespace llmctl::engine
