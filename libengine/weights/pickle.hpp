#pragma once

#include "weights/dtype.hpp"

#include <cstdint>
#include <string>
#include <string_view>
#include <utility>
#include <vector>

namespace llmctl::engine {

// A restricted unpickler for the data.pkl of a torch.save archive. It interprets the opcodes that
// protocols 2 to 5 use for plain data (None, bools, ints, floats, strings, bytes, tuples, lists, dicts,
// the memo, marks, frames) and resolves globals against an allow-list only: collections.OrderedDict,
// torch._utils._rebuild_tensor_v2, torch._utils._rebuild_parameter and the legacy storage classes
// (torch.FloatStorage, ...). Nothing is ever called or imported: REDUCE on an allowed callable builds a
// record, BUILD is accepted on an OrderedDict only (its state, e.g. `_metadata`, is dropped), persistent
// ids must be torch's ('storage', <storage class>, key, location, numel). Any other global or opcode,
// and any malformed or truncated input, is an llmctl::Error naming `origin`. Stack, memo and object
// counts are capped, so hostile input costs bounded memory.

// A storage that tensors view: the archive record data/<key>.
struct PickledStorage {
  std::string key;
  DType dtype;          // from the storage class: torch.FloatStorage is f32
  std::uint64_t numel;  // elements, not bytes
};

// What torch._utils._rebuild_tensor_v2 would build: a strided view of a storage, checked to lie within
// it (offset and strides count elements).
struct PickledTensor {
  PickledStorage storage;
  std::uint64_t offset = 0;
  std::vector<std::uint64_t> shape;
  std::vector<std::uint64_t> stride;

  std::uint64_t elements() const;
  bool contiguous() const;  // row-major strides (dimensions of size 1 may have any stride)
};

enum class PickleKind : std::uint8_t {
  none, boolean, integer, floating, string, bytes, tuple, list, dict, global, storage, tensor
};

// A value on the unpickler's stack: scalars inline, everything else an index into Pickle::objects, so
// that the memo and later SETITEMS share one dict as Python's references do.
struct PickleValue {
  PickleKind kind = PickleKind::none;
  std::int64_t integer = 0;  // boolean/integer value; the object index for string and later kinds
  double floating = 0;
};

struct PickleObject {
  PickleKind kind;
  bool ordered = false;             // a dict made by collections.OrderedDict
  std::string text;                 // string and bytes contents; "module.name" of a global
  std::vector<PickleValue> items;   // tuple and list elements; a dict's keys and values, alternating,
                                    // in insertion order (a repeated key is kept twice)
  std::size_t record = 0;           // index into Pickle::storages or Pickle::tensors
};

struct Pickle {
  PickleValue root;
  std::vector<PickleObject> objects;
  std::vector<PickledStorage> storages;
  std::vector<PickledTensor> tensors;

  const PickleObject& object(const PickleValue& value) const;  // for string and later kinds
};

// Interprets `bytes` up to STOP; bytes after it are ignored, as Python ignores them.
Pickle unpickle(std::string_view bytes, std::string_view origin);

// The (name, tensor) pairs of a state dict (a dict or OrderedDict from names to tensors), in pickle
// order. Any other shape, a repeated name, or a name that is not valid UTF-8 is an llmctl::Error.
std::vector<std::pair<std::string, PickledTensor>> state_dict_tensors(const Pickle& pickle, std::string_view origin);

}  // namespace llmctl::engine
