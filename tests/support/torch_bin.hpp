#pragma once

// Builders of pickles and torch.save archives, so that tests of the .bin reader need neither Python nor
// torch: opcodes are assembled by hand and the zip is written with libzip.

#include <zip.h>

#include <cstdint>
#include <cstring>
#include <filesystem>
#include <map>
#include <stdexcept>
#include <string>
#include <string_view>
#include <utility>
#include <vector>

namespace llmctl::test {

class PickleBytes {
 public:
  PickleBytes& op(unsigned code) {
    bytes_ += static_cast<char>(code);
    return *this;
  }
  PickleBytes& raw(std::string_view text) {
    bytes_ += text;
    return *this;
  }
  PickleBytes& le(std::uint64_t value, unsigned width) {
    for (unsigned i = 0; i < width; ++i) op(static_cast<unsigned>((value >> (8 * i)) & 0xff));
    return *this;
  }
  PickleBytes& proto(unsigned version) { return op(0x80).op(version); }
  PickleBytes& global(std::string_view module, std::string_view name) {
    return op('c').raw(module).raw("\n").raw(name).raw("\n");
  }
  PickleBytes& str(std::string_view text) { return op('X').le(text.size(), 4).raw(text); }  // BINUNICODE
  // The smallest encoding, as CPython's pickler chooses it.
  PickleBytes& integer(std::int64_t value) {
    if (value >= 0 && value < 256) return op('K').le(static_cast<std::uint64_t>(value), 1);
    if (value >= 0 && value < 65536) return op('M').le(static_cast<std::uint64_t>(value), 2);
    if (value >= INT32_MIN && value <= INT32_MAX) return op('J').le(static_cast<std::uint32_t>(value), 4);
    return op(0x8a).op(8).le(static_cast<std::uint64_t>(value), 8);  // LONG1
  }
  PickleBytes& put(std::uint64_t index) { return index < 256 ? op('q').le(index, 1) : op('r').le(index, 4); }
  PickleBytes& get(std::uint64_t index) { return index < 256 ? op('h').le(index, 1) : op('j').le(index, 4); }
  PickleBytes& mark() { return op('('); }
  PickleBytes& tuple() { return op('t'); }
  PickleBytes& empty_tuple() { return op(')'); }
  PickleBytes& empty_dict() { return op('}'); }
  PickleBytes& empty_list() { return op(']'); }
  PickleBytes& setitem() { return op('s'); }
  PickleBytes& setitems() { return op('u'); }
  PickleBytes& reduce() { return op('R'); }
  PickleBytes& build() { return op('b'); }
  PickleBytes& persid() { return op('Q'); }
  PickleBytes& boolean(bool value) { return op(value ? 0x88 : 0x89); }
  PickleBytes& none() { return op('N'); }
  PickleBytes& stop() { return op('.'); }
  const std::string& bytes() const { return bytes_; }

 private:
  std::string bytes_;
};

struct FakeBinTensor {
  std::string name;
  std::string storage_class;  // "FloatStorage"
  std::string key;            // record data/<key>
  std::uint64_t numel;        // of the storage
  std::uint64_t offset;
  std::vector<std::uint64_t> shape;
  std::vector<std::uint64_t> stride;
};

// The data.pkl that torch.save (protocol 2) writes for a state dict: an OrderedDict with `_metadata`
// state (or a plain dict, as transformers' shards are), every str and global memoized once and fetched
// from the memo after.
inline std::string state_dict_pickle(const std::vector<FakeBinTensor>& tensors, bool ordered = true) {
  PickleBytes p;
  std::map<std::string, std::uint64_t> memo;
  std::uint64_t next = 0;
  const auto memoized = [&](const std::string& id, auto&& emit) {
    if (const auto it = memo.find(id); it != memo.end()) {
      p.get(it->second);
    } else {
      emit();
      memo[id] = next;
      p.put(next++);
    }
  };
  const auto str = [&](const std::string& text) { memoized("s:" + text, [&] { p.str(text); }); };
  const auto global = [&](const std::string& module, const std::string& name) {
    memoized("g:" + module + "." + name, [&] { p.global(module, name); });
  };
  const auto ordered_dict = [&] {
    global("collections", "OrderedDict");
    p.empty_tuple().reduce().put(next++);
  };
  const auto dims = [&](const std::vector<std::uint64_t>& values) {
    if (values.empty()) {
      p.empty_tuple();
    } else {
      if (values.size() > 3) p.mark();
      for (const auto value : values) p.integer(static_cast<std::int64_t>(value));
      p.op(values.size() > 3 ? 't' : 0x84 + static_cast<unsigned>(values.size()));  // TUPLE1..3 are 0x85..0x87
    }
    p.put(next++);
  };

  p.proto(2);
  if (ordered) {
    ordered_dict();
  } else {
    p.empty_dict().put(next++);
  }
  p.mark();
  for (const auto& tensor : tensors) {
    str(tensor.name);
    global("torch._utils", "_rebuild_tensor_v2");
    p.mark().mark();
    str("storage");
    global("torch", tensor.storage_class);
    str(tensor.key);
    str("cpu");
    p.integer(static_cast<std::int64_t>(tensor.numel)).tuple().put(next++).persid();
    p.integer(static_cast<std::int64_t>(tensor.offset));
    dims(tensor.shape);
    dims(tensor.stride);
    p.boolean(false);
    ordered_dict();
    p.tuple().put(next++);
    p.reduce().put(next++);
  }
  p.setitems();
  if (ordered) {
    p.empty_dict().put(next++);
    str("_metadata");
    ordered_dict();
    str("");
    p.empty_dict().put(next++);
    str("version");
    p.integer(1).setitem().setitem().setitem().build();
  }
  return p.stop().bytes();
}

// Writes a zip of `records` (name, bytes), stored uncompressed as torch.save writes them (or deflated,
// as a re-zipped archive would be).
inline void write_zip(const std::filesystem::path& path, const std::vector<std::pair<std::string, std::string>>& records,
                      bool deflate = false) {
  int error = 0;
  zip_t* zip = zip_open(path.c_str(), ZIP_CREATE | ZIP_TRUNCATE, &error);
  if (zip == nullptr) throw std::runtime_error("zip_open failed");
  for (const auto& [name, bytes] : records) {
    zip_source_t* source = zip_source_buffer(zip, bytes.data(), bytes.size(), 0);
    const auto index = source == nullptr ? -1 : zip_file_add(zip, name.c_str(), source, ZIP_FL_OVERWRITE);
    if (index < 0) {
      zip_source_free(source);
      zip_discard(zip);
      throw std::runtime_error("zip_file_add failed");
    }
    zip_set_file_compression(zip, static_cast<zip_uint64_t>(index), deflate ? ZIP_CM_DEFLATE : ZIP_CM_STORE, 0);
  }
  if (zip_close(zip) != 0) {
    zip_discard(zip);
    throw std::runtime_error("zip_close failed");
  }
}

// A torch.save archive: <prefix>/data.pkl, byteorder, version and one data/<key> record per storage.
inline void write_torch_bin(const std::filesystem::path& path, const std::string& data_pkl,
                            const std::map<std::string, std::string>& storages, const std::string& prefix = "archive") {
  std::vector<std::pair<std::string, std::string>> records{{prefix + "/data.pkl", data_pkl},
                                                           {prefix + "/byteorder", "little"}};
  for (const auto& [key, bytes] : storages) records.emplace_back(prefix + "/data/" + key, bytes);
  records.emplace_back(prefix + "/version", "3\n");
  write_zip(path, records);
}

template <typename T>
std::string raw_bytes(const std::vector<T>& values) {
  std::string bytes(values.size() * sizeof(T), '\0');
  if (!values.empty()) std::memcpy(bytes.data(), values.data(), bytes.size());
  return bytes;
}

}  // namespace llmctl::test
