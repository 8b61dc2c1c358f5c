#include "weights/pickle.hpp"

#include "common/error.hpp"
#include "tokenizer/utf8.hpp"

#include <fmt/format.h>
#include <fmt/ranges.h>

#include <array>
#include <bit>
#include <unordered_map>
#include <unordered_set>

namespace llmctl::engine {
namespace {

// Caps far above what a state dict needs (a few objects and memo entries per tensor), so that a
// hostile pickle costs bounded memory.
constexpr std::size_t kMaxStack = 1 << 20;
constexpr std::size_t kMaxMemo = 1 << 22;
constexpr std::size_t kMaxObjects = 1 << 22;
constexpr std::size_t kMaxDims = 64;
constexpr std::size_t kMaxMetadata = 16;  // entries of a tensor's metadata dict (torch writes at most a few)
constexpr std::uint64_t kMaxNumel = std::uint64_t{1} << 60;  // numel x element size stays in 64 bits
constexpr unsigned kHighestProtocol = 5;

enum class GlobalKind : std::uint8_t { ordered_dict, rebuild_tensor_v2, rebuild_parameter, storage_class };

struct AllowedGlobal {
  std::string_view module;
  std::string_view name;
  GlobalKind kind;
  DType dtype;  // of a storage class
};

// The only globals a pickle may name. The storage classes appear inside persistent ids as dtype markers.
// torch.save writes dtypes without a legacy storage class (float8, uint16-64) through _rebuild_tensor_v3
// and torch.UntypedStorage instead; those are refused, as are quantized and sparse tensor rebuilds.
constexpr std::array<AllowedGlobal, 13> kAllowedGlobals{{
    {"collections", "OrderedDict", GlobalKind::ordered_dict, DType::u8},
    {"torch._utils", "_rebuild_tensor_v2", GlobalKind::rebuild_tensor_v2, DType::u8},
    {"torch._utils", "_rebuild_parameter", GlobalKind::rebuild_parameter, DType::u8},
    {"torch", "FloatStorage", GlobalKind::storage_class, DType::f32},
    {"torch", "HalfStorage", GlobalKind::storage_class, DType::f16},
    {"torch", "BFloat16Storage", GlobalKind::storage_class, DType::bf16},
    {"torch", "DoubleStorage", GlobalKind::storage_class, DType::f64},
    {"torch", "LongStorage", GlobalKind::storage_class, DType::i64},
    {"torch", "IntStorage", GlobalKind::storage_class, DType::i32},
    {"torch", "ShortStorage", GlobalKind::storage_class, DType::i16},
    {"torch", "CharStorage", GlobalKind::storage_class, DType::i8},
    {"torch", "ByteStorage", GlobalKind::storage_class, DType::u8},
    {"torch", "BoolStorage", GlobalKind::storage_class, DType::bool8},
}};

namespace op {
enum : unsigned char {
  MARK = '(', STOP = '.', POP = '0', POP_MARK = '1', DUP = '2', BININT = 'J', BININT1 = 'K', BININT2 = 'M',
  NONE = 'N', BINPERSID = 'Q', REDUCE = 'R', BINSTRING = 'T', SHORT_BINSTRING = 'U', BINUNICODE = 'X',
  APPEND = 'a', BUILD = 'b', GLOBAL = 'c', DICT = 'd', EMPTY_DICT = '}', APPENDS = 'e', BINGET = 'h',
  LONG_BINGET = 'j', LIST = 'l', EMPTY_LIST = ']', BINPUT = 'q', LONG_BINPUT = 'r', SETITEM = 's', TUPLE = 't',
  EMPTY_TUPLE = ')', SETITEMS = 'u', BINFLOAT = 'G', BINBYTES = 'B', SHORT_BINBYTES = 'C', PROTO = 0x80,
  NEWOBJ = 0x81, TUPLE1 = 0x85, TUPLE2 = 0x86, TUPLE3 = 0x87, NEWTRUE = 0x88, NEWFALSE = 0x89, LONG1 = 0x8a,
  SHORT_BINUNICODE = 0x8c, BINUNICODE8 = 0x8d, STACK_GLOBAL = 0x93, MEMOIZE = 0x94, FRAME = 0x95,
};
}  // namespace op

// Names of the standard opcodes this unpickler refuses, for the error message.
std::string_view refused_opcode_name(unsigned char code) {
  switch (code) {
    case 'F': return "FLOAT";
    case 'I': return "INT";
    case 'L': return "LONG";
    case 'P': return "PERSID";
    case 'S': return "STRING";
    case 'V': return "UNICODE";
    case 'g': return "GET";
    case 'i': return "INST";
    case 'o': return "OBJ";
    case 'p': return "PUT";
    case 0x82: return "EXT1";
    case 0x83: return "EXT2";
    case 0x84: return "EXT4";
    case 0x8b: return "LONG4";
    case 0x8e: return "BINBYTES8";
    case 0x8f: return "EMPTY_SET";
    case 0x90: return "ADDITEMS";
    case 0x91: return "FROZENSET";
    case 0x92: return "NEWOBJ_EX";
    case 0x96: return "BYTEARRAY8";
    case 0x97: return "NEXT_BUFFER";
    case 0x98: return "READONLY_BUFFER";
    default: return "";
  }
}

std::string_view kind_name(PickleKind kind) {
  switch (kind) {
    case PickleKind::none: return "None";
    case PickleKind::boolean: return "a bool";
    case PickleKind::integer: return "an int";
    case PickleKind::floating: return "a float";
    case PickleKind::string: return "a str";
    case PickleKind::bytes: return "bytes";
    case PickleKind::tuple: return "a tuple";
    case PickleKind::list: return "a list";
    case PickleKind::dict: return "a dict";
    case PickleKind::global: return "a global";
    case PickleKind::storage: return "a storage";
    case PickleKind::tensor: return "a tensor";
  }
  return "a value";
}

class Unpickler {
 public:
  Unpickler(std::string_view bytes, std::string_view origin) : bytes_(bytes), origin_(origin) {}

  Pickle run() {
    while (true) {
      if (pos_ >= bytes_.size()) truncated();
      op_pos_ = pos_;
      const auto code = static_cast<unsigned char>(bytes_[pos_++]);
      if (code == op::STOP) break;
      step(code);
    }
    if (!marks_.empty() || stack_.size() != 1) fail("STOP with a stack that does not hold exactly one value");
    pickle_.root = stack_.back();
    return std::move(pickle_);
  }

 private:
  [[noreturn]] void fail(std::string_view what) const {
    throw Error(fmt::format("{}: bad pickle at byte {}: {}", origin_, op_pos_, what));
  }
  [[noreturn]] void truncated() const { throw Error(fmt::format("{}: pickle is truncated (at byte {})", origin_, pos_)); }

  std::string_view take(std::uint64_t count) {
    if (count > bytes_.size() - pos_) truncated();
    const auto out = bytes_.substr(pos_, static_cast<std::size_t>(count));
    pos_ += static_cast<std::size_t>(count);
    return out;
  }
  std::uint64_t read_le(unsigned width) {
    const auto raw = take(width);
    std::uint64_t value = 0;
    for (unsigned i = 0; i < width; ++i) value |= std::uint64_t{static_cast<unsigned char>(raw[i])} << (8 * i);
    return value;
  }
  std::string_view read_line() {
    const auto end = bytes_.find('\n', pos_);
    if (end == std::string_view::npos) truncated();
    const auto line = bytes_.substr(pos_, end - pos_);
    pos_ = end + 1;
    return line;
  }

  // The values since the innermost MARK are the only ones an opcode may pop, as in Python's metastack.
  std::size_t base() const { return marks_.empty() ? 0 : marks_.back(); }
  void push(PickleValue value) {
    if (stack_.size() >= kMaxStack) fail("stack too deep");
    stack_.push_back(value);
  }
  PickleValue pop() {
    if (stack_.size() <= base()) fail("pop from an empty stack");
    const auto value = stack_.back();
    stack_.pop_back();
    return value;
  }
  PickleValue& top() {
    if (stack_.size() <= base()) fail("empty stack");
    return stack_.back();
  }
  std::vector<PickleValue> pop_mark() {
    if (marks_.empty()) fail("no MARK to pop to");
    std::vector<PickleValue> items(stack_.begin() + static_cast<std::ptrdiff_t>(marks_.back()), stack_.end());
    stack_.resize(marks_.back());
    marks_.pop_back();
    return items;
  }

  PickleValue make(PickleKind kind, std::string text = {}, std::vector<PickleValue> items = {}) {
    if (pickle_.objects.size() >= kMaxObjects) fail("too many objects");
    pickle_.objects.push_back({kind, false, std::move(text), std::move(items), 0});
    return {kind, static_cast<std::int64_t>(pickle_.objects.size() - 1), 0};
  }
  PickleObject& object(const PickleValue& value) { return pickle_.objects[static_cast<std::size_t>(value.integer)]; }

  std::string describe(const PickleValue& value) {
    if (value.kind == PickleKind::global) return fmt::format("global '{}'", object(value).text);
    return std::string(kind_name(value.kind));
  }
  const AllowedGlobal* global_of(const PickleValue& value) {
    return value.kind == PickleKind::global ? &kAllowedGlobals[object(value).record] : nullptr;
  }
  const std::string& string_of(const PickleValue& value, std::string_view what) {
    if (value.kind != PickleKind::string) fail(fmt::format("{} is {}, not a str", what, describe(value)));
    return object(value).text;
  }
  std::uint64_t count_of(const PickleValue& value, std::string_view what) {
    if (value.kind != PickleKind::integer || value.integer < 0)
      fail(fmt::format("{} is {}, not a non-negative int", what, describe(value)));
    return static_cast<std::uint64_t>(value.integer);
  }
  std::vector<std::uint64_t> dims_of(const PickleValue& value, std::string_view what) {
    if (value.kind != PickleKind::tuple && value.kind != PickleKind::list)
      fail(fmt::format("{} is {}, not a tuple", what, describe(value)));
    if (object(value).items.size() > kMaxDims) fail(fmt::format("{} has more than {} dimensions", what, kMaxDims));
    std::vector<std::uint64_t> dims;
    for (const auto& item : object(value).items) dims.push_back(count_of(item, what));
    return dims;
  }

  void push_string(PickleKind kind, std::uint64_t length) { push(make(kind, std::string(take(length)))); }

  void push_global(std::string_view module, std::string_view name) {
    for (std::size_t i = 0; i < kAllowedGlobals.size(); ++i) {
      if (kAllowedGlobals[i].module != module || kAllowedGlobals[i].name != name) continue;
      auto value = make(PickleKind::global, fmt::format("{}.{}", module, name));
      object(value).record = i;
      push(value);
      return;
    }
    throw Error(fmt::format("{}: refusing to load global '{}.{}' (only tensor rebuilds are allowed)", origin_, module, name));
  }

  void set_items(const PickleValue& dict, const std::vector<PickleValue>& pairs) {
    if (dict.kind != PickleKind::dict) fail(fmt::format("SETITEM on {}, not a dict", describe(dict)));
    if (pairs.size() % 2 != 0) fail("SETITEMS with an odd number of values");
    auto& items = object(dict).items;
    items.insert(items.end(), pairs.begin(), pairs.end());
  }
  void append(const PickleValue& list, const std::vector<PickleValue>& values) {
    if (list.kind != PickleKind::list) fail(fmt::format("APPEND on {}, not a list", describe(list)));
    auto& items = object(list).items;
    items.insert(items.end(), values.begin(), values.end());
  }

  // ('storage', <storage class>, key, location, numel), as torch.save's persistent_id writes it.
  PickleValue persistent_load(const PickleValue& pid) {
    if (pid.kind != PickleKind::tuple || object(pid).items.size() != 5)
      fail(fmt::format("persistent id is {}, not a 5-tuple ('storage', class, key, location, numel)", describe(pid)));
    const auto items = object(pid).items;
    if (string_of(items[0], "persistent id type") != "storage")
      fail(fmt::format("persistent id type '{}' is not 'storage'", object(items[0]).text));
    const auto* storage_class = global_of(items[1]);
    if (storage_class == nullptr || storage_class->kind != GlobalKind::storage_class)
      fail(fmt::format("persistent id names {}, not a storage class", describe(items[1])));
    PickledStorage storage{string_of(items[2], "storage key"), storage_class->dtype, count_of(items[4], "storage size")};
    string_of(items[3], "storage location");
    if (storage.key.empty() || storage.key.find_first_of(std::string_view("/\\\0", 3)) != std::string::npos)
      fail(fmt::format("storage key '{}' is not a record name", storage.key));
    if (storage.numel > kMaxNumel) fail(fmt::format("storage '{}' is too large", storage.key));
    auto [it, inserted] = storage_index_.emplace(storage.key, pickle_.storages.size());
    if (inserted) {
      pickle_.storages.push_back(storage);
    } else if (const auto& seen = pickle_.storages[it->second]; seen.dtype != storage.dtype || seen.numel != storage.numel) {
      fail(fmt::format("storage '{}' is described twice with different dtypes or sizes", storage.key));
    }
    auto value = make(PickleKind::storage);
    object(value).record = it->second;
    return value;
  }

  // torch._utils._rebuild_tensor_v2(storage, storage_offset, size, stride, requires_grad, backward_hooks[, metadata])
  PickleValue rebuild_tensor(const std::vector<PickleValue>& args) {
    if (args.size() != 6 && args.size() != 7) fail(fmt::format("_rebuild_tensor_v2 takes 6 or 7 arguments, not {}", args.size()));
    if (args[0].kind != PickleKind::storage) fail(fmt::format("_rebuild_tensor_v2 storage is {}", describe(args[0])));
    PickledTensor tensor{pickle_.storages[object(args[0]).record], count_of(args[1], "storage offset"),
                         dims_of(args[2], "tensor size"), dims_of(args[3], "tensor stride")};
    if (tensor.shape.size() != tensor.stride.size()) fail("tensor size and stride differ in length");
    if (args[4].kind != PickleKind::boolean) fail(fmt::format("requires_grad is {}, not a bool", describe(args[4])));
    if (args[5].kind != PickleKind::dict) fail(fmt::format("backward_hooks is {}, not a dict", describe(args[5])));
    if (args.size() == 7) {
      // Metadata flags (conj, neg) change what the bytes mean; real checkpoints carry none that are set.
      if (args[6].kind != PickleKind::dict) fail(fmt::format("tensor metadata is {}, not a dict", describe(args[6])));
      if (object(args[6]).items.size() > 2 * kMaxMetadata) fail("tensor metadata has too many entries");
      const auto metadata = object(args[6]).items;
      for (std::size_t i = 0; i + 1 < metadata.size(); i += 2)
        if (metadata[i + 1].kind != PickleKind::boolean || metadata[i + 1].integer != 0)
          fail(fmt::format("tensor metadata '{}' is not supported",
                           metadata[i].kind == PickleKind::string ? object(metadata[i]).text : describe(metadata[i])));
    }
    check_bounds(tensor);
    pickle_.tensors.push_back(std::move(tensor));
    auto value = make(PickleKind::tensor);
    object(value).record = pickle_.tensors.size() - 1;
    return value;
  }

  void check_bounds(const PickledTensor& tensor) {
    std::uint64_t elements = 1;
    std::uint64_t last = tensor.offset;  // the highest element index the view touches
    for (std::size_t i = 0; i < tensor.shape.size(); ++i) {
      std::uint64_t reach = 0;
      if (__builtin_mul_overflow(tensor.shape[i], elements, &elements) ||
          (tensor.shape[i] > 0 && (__builtin_mul_overflow(tensor.shape[i] - 1, tensor.stride[i], &reach) ||
                                   __builtin_add_overflow(last, reach, &last))))
        fail("tensor size or stride overflows");
    }
    const bool inside = elements == 0 ? tensor.offset <= tensor.storage.numel : last < tensor.storage.numel;
    if (!inside)
      fail(fmt::format("tensor view (offset {}, size [{}], stride [{}]) runs past its storage '{}' of {} elements",
                       tensor.offset, fmt::join(tensor.shape, ", "), fmt::join(tensor.stride, ", "), tensor.storage.key,
                       tensor.storage.numel));
  }

  PickleValue call(const PickleValue& callable, const PickleValue& args) {
    const auto* global = global_of(callable);
    if (global == nullptr || global->kind == GlobalKind::storage_class)
      throw Error(fmt::format("{}: refusing to call {} (only tensor rebuilds are allowed)", origin_, describe(callable)));
    if (args.kind != PickleKind::tuple) fail(fmt::format("REDUCE arguments are {}, not a tuple", describe(args)));
    if (const auto count = object(args).items.size(); count > 7)
      fail(fmt::format("{} called with {} arguments", object(callable).text, count));
    const auto items = object(args).items;
    switch (global->kind) {
      case GlobalKind::ordered_dict: return new_ordered_dict(items);
      case GlobalKind::rebuild_tensor_v2: return rebuild_tensor(items);
      case GlobalKind::rebuild_parameter:
        // _rebuild_parameter(data, requires_grad, backward_hooks): a Parameter is its tensor here.
        if (items.size() != 3 || items[0].kind != PickleKind::tensor || items[1].kind != PickleKind::boolean ||
            items[2].kind != PickleKind::dict)
          fail("_rebuild_parameter takes (tensor, bool, dict)");
        return items[0];
      case GlobalKind::storage_class: break;
    }
    fail("unreachable");
  }
  PickleValue new_ordered_dict(const std::vector<PickleValue>& args) {
    // OrderedDict.__reduce__ passes no arguments: the items follow through SETITEMS.
    if (!args.empty()) fail("collections.OrderedDict called with arguments");
    auto value = make(PickleKind::dict);
    object(value).ordered = true;
    return value;
  }

  void step(unsigned char code) {
    switch (code) {
      case op::PROTO:
        if (const auto version = read_le(1); version > kHighestProtocol) fail(fmt::format("unsupported protocol {}", version));
        return;
      case op::FRAME:
        // Frames only group opcodes for buffered reading; the whole pickle is in memory already.
        if (read_le(8) > bytes_.size() - pos_) truncated();
        return;
      case op::MARK:
        if (marks_.size() >= kMaxStack) fail("too many MARKs");
        marks_.push_back(stack_.size());
        return;
      case op::POP:
        if (stack_.size() > base()) stack_.pop_back();
        else pop_mark();  // Python pops the mark itself when nothing follows it
        return;
      case op::POP_MARK: pop_mark(); return;
      case op::DUP: push(top()); return;
      case op::NONE: push({}); return;
      case op::NEWTRUE: push({PickleKind::boolean, 1, 0}); return;
      case op::NEWFALSE: push({PickleKind::boolean, 0, 0}); return;
      case op::BININT: push({PickleKind::integer, static_cast<std::int32_t>(read_le(4)), 0}); return;
      case op::BININT1: push({PickleKind::integer, static_cast<std::int64_t>(read_le(1)), 0}); return;
      case op::BININT2: push({PickleKind::integer, static_cast<std::int64_t>(read_le(2)), 0}); return;
      case op::LONG1: {
        const auto width = static_cast<unsigned>(read_le(1));
        if (width > 8) fail("integer wider than 64 bits");
        auto value = read_le(width);
        if (width > 0 && width < 8 && (value >> (8 * width - 1)) != 0) value |= ~std::uint64_t{0} << (8 * width);
        push({PickleKind::integer, static_cast<std::int64_t>(value), 0});
        return;
      }
      case op::BINFLOAT: {
        const auto raw = take(8);
        std::uint64_t bits = 0;
        for (const char byte : raw) bits = (bits << 8) | static_cast<unsigned char>(byte);  // big-endian
        push({PickleKind::floating, 0, std::bit_cast<double>(bits)});
        return;
      }
      case op::SHORT_BINUNICODE: push_string(PickleKind::string, read_le(1)); return;
      case op::BINUNICODE: push_string(PickleKind::string, read_le(4)); return;
      case op::BINUNICODE8: push_string(PickleKind::string, read_le(8)); return;
      // Python 2 str: torch.load decodes it with encoding='utf-8'.
      case op::SHORT_BINSTRING: push_string(PickleKind::string, read_le(1)); return;
      case op::BINSTRING: {
        const auto length = static_cast<std::int32_t>(read_le(4));
        if (length < 0) fail("BINSTRING with a negative length");
        push_string(PickleKind::string, static_cast<std::uint64_t>(length));
        return;
      }
      case op::SHORT_BINBYTES: push_string(PickleKind::bytes, read_le(1)); return;
      case op::BINBYTES: push_string(PickleKind::bytes, read_le(4)); return;
      case op::EMPTY_TUPLE: push(make(PickleKind::tuple)); return;
      case op::TUPLE: push(make(PickleKind::tuple, {}, pop_mark())); return;
      case op::TUPLE1:
      case op::TUPLE2:
      case op::TUPLE3: {
        std::vector<PickleValue> items(code - op::TUPLE1 + 1);
        for (auto it = items.rbegin(); it != items.rend(); ++it) *it = pop();
        push(make(PickleKind::tuple, {}, std::move(items)));
        return;
      }
      case op::EMPTY_LIST: push(make(PickleKind::list)); return;
      case op::LIST: push(make(PickleKind::list, {}, pop_mark())); return;
      case op::APPEND: {
        const auto value = pop();
        append(top(), {value});
        return;
      }
      case op::APPENDS: {
        const auto values = pop_mark();
        append(top(), values);
        return;
      }
      case op::EMPTY_DICT: push(make(PickleKind::dict)); return;
      case op::DICT: {
        const auto pairs = pop_mark();
        push(make(PickleKind::dict));
        set_items(top(), pairs);
        return;
      }
      case op::SETITEM: {
        const auto value = pop();
        const auto key = pop();
        set_items(top(), {key, value});
        return;
      }
      case op::SETITEMS: {
        const auto pairs = pop_mark();
        set_items(top(), pairs);
        return;
      }
      case op::BINPUT: put(read_le(1)); return;
      case op::LONG_BINPUT: put(read_le(4)); return;
      case op::MEMOIZE: put(memo_.size()); return;
      case op::BINGET: get(read_le(1)); return;
      case op::LONG_BINGET: get(read_le(4)); return;
      case op::GLOBAL: {
        const auto module = read_line();
        push_global(module, read_line());
        return;
      }
      case op::STACK_GLOBAL: {
        const auto name = pop();
        const auto module = pop();
        // Copies: make() may move the objects that the strings live in.
        const std::string module_name = string_of(module, "STACK_GLOBAL module");
        const std::string global_name = string_of(name, "STACK_GLOBAL name");
        push_global(module_name, global_name);
        return;
      }
      case op::REDUCE: {
        const auto args = pop();
        const auto callable = pop();
        push(call(callable, args));
        return;
      }
      case op::NEWOBJ: {
        const auto args = pop();
        const auto cls = pop();
        const auto* global = global_of(cls);
        if (global == nullptr || global->kind != GlobalKind::ordered_dict)
          throw Error(fmt::format("{}: refusing to instantiate {} (only tensor rebuilds are allowed)", origin_, describe(cls)));
        if (args.kind != PickleKind::tuple) fail("NEWOBJ arguments are not a tuple");
        push(new_ordered_dict(object(args).items));
        return;
      }
      case op::BUILD: {
        pop();  // the state: an OrderedDict's __dict__ (transformers' `_metadata`), not needed here
        const auto& target = top();
        if (target.kind != PickleKind::dict || !object(target).ordered)
          throw Error(fmt::format("{}: refusing BUILD on {} at byte {} (only OrderedDict state is accepted)", origin_,
                                  describe(target), op_pos_));
        return;
      }
      case op::BINPERSID: push(persistent_load(pop())); return;
      default: {
        const auto name = refused_opcode_name(code);
        throw Error(fmt::format("{}: unsupported pickle opcode 0x{:02x}{} at byte {}", origin_, code,
                                name.empty() ? "" : fmt::format(" ({})", name), op_pos_));
      }
    }
  }

  void put(std::uint64_t index) {
    if (memo_.size() >= kMaxMemo && !memo_.contains(index)) fail("memo too large");
    memo_[index] = top();
  }
  void get(std::uint64_t index) {
    const auto it = memo_.find(index);
    if (it == memo_.end()) fail(fmt::format("memo entry {} is not defined", index));
    push(it->second);
  }

  std::string_view bytes_;
  std::string_view origin_;
  std::size_t pos_ = 0;
  std::size_t op_pos_ = 0;
  std::vector<PickleValue> stack_;
  std::vector<std::size_t> marks_;
  std::unordered_map<std::uint64_t, PickleValue> memo_;
  std::unordered_map<std::string, std::size_t> storage_index_;
  Pickle pickle_;
};

}  // namespace

std::uint64_t PickledTensor::elements() const {
  std::uint64_t count = 1;
  for (const auto dim : shape) count *= dim;
  return count;
}

bool PickledTensor::contiguous() const {
  std::uint64_t expected = 1;
  for (std::size_t i = shape.size(); i-- > 0;) {
    if (shape[i] == 0) return true;
    if (shape[i] != 1 && stride[i] != expected) return false;
    expected *= shape[i];
  }
  return true;
}

const PickleObject& Pickle::object(const PickleValue& value) const {
  return objects.at(static_cast<std::size_t>(value.integer));
}

Pickle unpickle(std::string_view bytes, std::string_view origin) { return Unpickler(bytes, origin).run(); }

std::vector<std::pair<std::string, PickledTensor>> state_dict_tensors(const Pickle& pickle, std::string_view origin) {
  if (pickle.root.kind != PickleKind::dict)
    throw Error(fmt::format("{}: expected a state dict (a dict of tensors), found {}", origin, kind_name(pickle.root.kind)));
  const auto& items = pickle.object(pickle.root).items;
  std::vector<std::pair<std::string, PickledTensor>> tensors;
  std::unordered_set<std::string> names;
  for (std::size_t i = 0; i + 1 < items.size(); i += 2) {
    const auto& key = items[i];
    const auto& value = items[i + 1];
    if (key.kind != PickleKind::string)
      throw Error(fmt::format("{}: state dict key is {}, not a str", origin, kind_name(key.kind)));
    const auto& name = pickle.object(key).text;
    if (!utf8::is_valid(name)) throw Error(fmt::format("{}: state dict key is not valid UTF-8", origin));
    if (value.kind != PickleKind::tensor)
      throw Error(fmt::format("{}: state dict entry '{}' is {}, not a tensor", origin, name, kind_name(value.kind)));
    if (!names.insert(name).second) throw Error(fmt::format("{}: state dict names tensor '{}' twice", origin, name));
    tensors.emplace_back(name, pickle.tensors[pickle.object(value).record]);
  }
  return tensors;
}

}  // namespace llmctl::engine
