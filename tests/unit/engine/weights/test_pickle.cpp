#include "weights/pickle.hpp"

#include "common/error.hpp"
#include "support/torch_bin.hpp"

#include <doctest/doctest.h>
#include <fmt/format.h>

#include <random>

using namespace llmctl::engine;
using llmctl::test::FakeBinTensor;
using llmctl::test::PickleBytes;
using doctest::Contains;

namespace {

constexpr std::string_view kOrigin = "pytorch_model.bin";

// What CPython's pickler writes for torch.save of an OrderedDict state dict, with `_metadata` state, two
// tensors viewing one FloatStorage of 6 elements: a.weight [2, 3] and b.weight, a transposed [2, 2] view
// at offset 1. Recorded from the stdlib pickler with stand-ins for torch's classes (no torch needed).
const std::string kProtocol2(
    "\x80\x02\x63\x63\x6f\x6c\x6c\x65\x63\x74\x69\x6f\x6e\x73\x0a\x4f\x72\x64\x65\x72\x65\x64\x44\x69"
    "\x63\x74\x0a\x71\x00\x29\x52\x71\x01\x28\x58\x08\x00\x00\x00\x61\x2e\x77\x65\x69\x67\x68\x74\x71"
    "\x02\x63\x74\x6f\x72\x63\x68\x2e\x5f\x75\x74\x69\x6c\x73\x0a\x5f\x72\x65\x62\x75\x69\x6c\x64\x5f"
    "\x74\x65\x6e\x73\x6f\x72\x5f\x76\x32\x0a\x71\x03\x28\x28\x58\x07\x00\x00\x00\x73\x74\x6f\x72\x61"
    "\x67\x65\x71\x04\x63\x74\x6f\x72\x63\x68\x0a\x46\x6c\x6f\x61\x74\x53\x74\x6f\x72\x61\x67\x65\x0a"
    "\x71\x05\x58\x01\x00\x00\x00\x30\x71\x06\x58\x03\x00\x00\x00\x63\x70\x75\x71\x07\x4b\x06\x74\x71"
    "\x08\x51\x4b\x00\x4b\x02\x4b\x03\x86\x71\x09\x4b\x03\x4b\x01\x86\x71\x0a\x89\x68\x00\x29\x52\x71"
    "\x0b\x74\x71\x0c\x52\x71\x0d\x58\x08\x00\x00\x00\x62\x2e\x77\x65\x69\x67\x68\x74\x71\x0e\x68\x03"
    "\x28\x28\x68\x04\x68\x05\x68\x06\x68\x07\x4b\x06\x74\x71\x0f\x51\x4b\x01\x4b\x02\x4b\x02\x86\x71"
    "\x10\x4b\x01\x4b\x03\x86\x71\x11\x89\x68\x00\x29\x52\x71\x12\x74\x71\x13\x52\x71\x14\x75\x7d\x71"
    "\x15\x58\x09\x00\x00\x00\x5f\x6d\x65\x74\x61\x64\x61\x74\x61\x71\x16\x68\x00\x29\x52\x71\x17\x58"
    "\x00\x00\x00\x00\x71\x18\x7d\x71\x19\x58\x07\x00\x00\x00\x76\x65\x72\x73\x69\x6f\x6e\x71\x1a\x4b"
    "\x01\x73\x73\x73\x62\x2e",
    294);
// The same state dict at protocol 4: FRAME, SHORT_BINUNICODE, STACK_GLOBAL and MEMOIZE.
const std::string kProtocol4(
    "\x80\x04\x95\xfd\x00\x00\x00\x00\x00\x00\x00\x8c\x0b\x63\x6f\x6c\x6c\x65\x63\x74\x69\x6f\x6e\x73"
    "\x94\x8c\x0b\x4f\x72\x64\x65\x72\x65\x64\x44\x69\x63\x74\x94\x93\x94\x29\x52\x94\x28\x8c\x08\x61"
    "\x2e\x77\x65\x69\x67\x68\x74\x94\x8c\x0c\x74\x6f\x72\x63\x68\x2e\x5f\x75\x74\x69\x6c\x73\x94\x8c"
    "\x12\x5f\x72\x65\x62\x75\x69\x6c\x64\x5f\x74\x65\x6e\x73\x6f\x72\x5f\x76\x32\x94\x93\x94\x28\x28"
    "\x8c\x07\x73\x74\x6f\x72\x61\x67\x65\x94\x8c\x05\x74\x6f\x72\x63\x68\x94\x8c\x0c\x46\x6c\x6f\x61"
    "\x74\x53\x74\x6f\x72\x61\x67\x65\x94\x93\x94\x8c\x01\x30\x94\x8c\x03\x63\x70\x75\x94\x4b\x06\x74"
    "\x94\x51\x4b\x00\x4b\x02\x4b\x03\x86\x94\x4b\x03\x4b\x01\x86\x94\x89\x68\x02\x29\x52\x94\x74\x94"
    "\x52\x94\x8c\x08\x62\x2e\x77\x65\x69\x67\x68\x74\x94\x68\x07\x28\x28\x68\x08\x68\x0b\x68\x0c\x68"
    "\x0d\x4b\x06\x74\x94\x51\x4b\x01\x4b\x02\x4b\x02\x86\x94\x4b\x01\x4b\x03\x86\x94\x89\x68\x02\x29"
    "\x52\x94\x74\x94\x52\x94\x75\x7d\x94\x8c\x09\x5f\x6d\x65\x74\x61\x64\x61\x74\x61\x94\x68\x02\x29"
    "\x52\x94\x8c\x00\x94\x7d\x94\x8c\x07\x76\x65\x72\x73\x69\x6f\x6e\x94\x4b\x01\x73\x73\x73\x62\x2e",
    264);

Pickle parse(const std::string& bytes) { return unpickle(bytes, kOrigin); }

// A literal's bytes, NULs included.
template <std::size_t N>
std::string raw(const char (&text)[N]) {
  return {text, N - 1};
}

std::vector<std::pair<std::string, PickledTensor>> tensors_of(const std::string& bytes) {
  return state_dict_tensors(parse(bytes), kOrigin);
}

// A pickle of one global's call: GLOBAL module name, args, REDUCE.
std::string refused(std::string_view module, std::string_view name) {
  return PickleBytes().proto(2).global(module, name).mark().str("id").tuple().reduce().stop().bytes();
}

// One _rebuild_tensor_v2 call on a FloatStorage of `numel` elements, as the whole pickle.
std::string one_tensor(std::uint64_t numel, std::uint64_t offset, const std::vector<std::uint64_t>& shape,
                       const std::vector<std::uint64_t>& stride) {
  return llmctl::test::state_dict_pickle({{"w", "FloatStorage", "0", numel, offset, shape, stride}});
}

}  // namespace

TEST_CASE("a state dict as torch.save pickles it: OrderedDict, memo, one storage viewed twice, _metadata") {
  for (const auto* bytes : {&kProtocol2, &kProtocol4}) {
    const auto tensors = tensors_of(*bytes);
    REQUIRE(tensors.size() == 2);
    CHECK(tensors[0].first == "a.weight");
    CHECK(tensors[1].first == "b.weight");
    const auto& a = tensors[0].second;
    const auto& b = tensors[1].second;
    CHECK(a.storage.key == "0");
    CHECK(a.storage.dtype == DType::f32);
    CHECK(a.storage.numel == 6);
    CHECK(a.offset == 0);
    CHECK(a.shape == std::vector<std::uint64_t>{2, 3});
    CHECK(a.stride == std::vector<std::uint64_t>{3, 1});
    CHECK(a.contiguous());
    CHECK(a.elements() == 6);
    CHECK(b.storage.key == "0");
    CHECK(b.offset == 1);
    CHECK(b.shape == std::vector<std::uint64_t>{2, 2});
    CHECK(b.stride == std::vector<std::uint64_t>{1, 3});
    CHECK_FALSE(b.contiguous());
    const auto pickle = parse(*bytes);
    CHECK(pickle.storages.size() == 1);  // one storage, however often it is named
    CHECK(pickle.object(pickle.root).ordered);
  }
}

TEST_CASE("the state dicts the test builder writes parse back") {
  const std::vector<FakeBinTensor> written{
      {"embed.weight", "BFloat16Storage", "0", 12, 0, {3, 4}, {4, 1}},
      {"lm_head.weight", "BFloat16Storage", "0", 12, 0, {3, 4}, {4, 1}},
      {"scale", "DoubleStorage", "1", 1, 0, {}, {}},
      {"big", "ByteStorage", "2", 70000, 4, {5, 2, 3, 1000}, {14000, 7000, 2000, 2}},
  };
  for (const bool ordered : {true, false}) {
    const auto tensors = tensors_of(llmctl::test::state_dict_pickle(written, ordered));
    REQUIRE(tensors.size() == written.size());
    for (std::size_t i = 0; i < written.size(); ++i) {
      CAPTURE(i);
      CHECK(tensors[i].first == written[i].name);
      CHECK(tensors[i].second.storage.key == written[i].key);
      CHECK(tensors[i].second.storage.numel == written[i].numel);
      CHECK(tensors[i].second.offset == written[i].offset);
      CHECK(tensors[i].second.shape == written[i].shape);
      CHECK(tensors[i].second.stride == written[i].stride);
    }
    CHECK(tensors[0].second.storage.dtype == DType::bf16);
    CHECK(tensors[2].second.storage.dtype == DType::f64);
    CHECK(tensors[2].second.elements() == 1);
    CHECK(tensors[3].second.storage.dtype == DType::u8);
    CHECK_FALSE(tensors[3].second.contiguous());
  }
}

TEST_CASE("plain values: every accepted opcode") {
  PickleBytes p;
  p.proto(4).op(0x95).le(0, 8);  // FRAME (its length is not checked against the opcodes)
  p.mark();
  p.none().boolean(true).boolean(false);
  p.integer(7).integer(300).integer(-5).integer(std::int64_t{1} << 40);
  p.op(0x8a).op(0);                                                // LONG1 of zero bytes: 0
  p.op(0x8a).op(2).le(0xff7f, 2);                                  // LONG1 -129
  p.op('G').raw(std::string("\x3f\xf8\x00\x00\x00\x00\x00\x00", 8));  // BINFLOAT 1.5
  p.op(0x8c).op(2).raw("hi");                                      // SHORT_BINUNICODE
  p.op(0x8d).le(3, 8).raw("abc");                                  // BINUNICODE8
  p.op('U').op(2).raw("py");                                       // SHORT_BINSTRING
  p.op('T').le(1, 4).raw("2");                                     // BINSTRING
  p.op('C').op(2).raw("\x01\x02");                                 // SHORT_BINBYTES
  p.op('B').le(1, 4).raw("\x03");                                  // BINBYTES
  p.integer(1).op(0x85);                                           // TUPLE1
  p.integer(1).integer(2).op(0x86);                                // TUPLE2
  p.integer(1).integer(2).integer(3).op(0x87);                     // TUPLE3
  p.op(0x94).op('2');                                              // MEMOIZE as 0, DUP
  p.mark().integer(9).op('1');                                     // POP_MARK drops the 9
  p.op('j').le(0, 4);                                              // LONG_BINGET 0: (1, 2, 3) again
  p.none().op('0');                                                // POP
  p.empty_list().integer(1).op('a').mark().integer(2).integer(3).op('e');  // APPEND, APPENDS
  p.mark().integer(4).integer(5).op('l');                          // LIST
  p.mark().str("k").integer(6).op('d');                            // DICT
  p.empty_dict().str("a").integer(1).setitem().mark().str("b").integer(2).str("c").integer(3).setitems();
  p.op('r').le(70000, 4);                                          // LONG_BINPUT at a sparse index
  p.op('j').le(70000, 4);                                          // LONG_BINGET it back
  p.tuple().stop();

  const auto pickle = parse(p.bytes());
  REQUIRE(pickle.root.kind == PickleKind::tuple);
  const auto& items = pickle.object(pickle.root).items;
  REQUIRE(items.size() == 26);
  CHECK(items[0].kind == PickleKind::none);
  CHECK((items[1].kind == PickleKind::boolean && items[1].integer == 1));
  CHECK((items[2].kind == PickleKind::boolean && items[2].integer == 0));
  CHECK(items[3].integer == 7);
  CHECK(items[4].integer == 300);
  CHECK(items[5].integer == -5);
  CHECK(items[6].integer == std::int64_t{1} << 40);
  CHECK((items[7].kind == PickleKind::integer && items[7].integer == 0));
  CHECK(items[8].integer == -129);
  CHECK((items[9].kind == PickleKind::floating && items[9].floating == 1.5));
  CHECK(pickle.object(items[10]).text == "hi");
  CHECK(pickle.object(items[11]).text == "abc");
  CHECK(pickle.object(items[12]).text == "py");
  CHECK(pickle.object(items[13]).text == "2");
  CHECK((items[14].kind == PickleKind::bytes && pickle.object(items[14]).text == "\x01\x02"));
  CHECK(pickle.object(items[15]).text == "\x03");
  CHECK(pickle.object(items[16]).items.size() == 1);
  CHECK(pickle.object(items[17]).items.size() == 2);
  CHECK(pickle.object(items[18]).items.size() == 3);
  CHECK(items[19].integer == items[18].integer);  // DUP and the memo hand back the same object
  CHECK(items[20].integer == items[18].integer);
  const auto& list = pickle.object(items[21]);
  CHECK(list.kind == PickleKind::list);
  CHECK(list.items.size() == 3);
  CHECK(pickle.object(items[22]).items.size() == 2);
  CHECK(pickle.object(items[23]).items.size() == 2);  // {"k": 6}: key and value
  CHECK(pickle.object(items[24]).items.size() == 6);
  CHECK_FALSE(pickle.object(items[24]).ordered);
  CHECK(items[25].integer == items[24].integer);
}

TEST_CASE("globals outside the allow-list are refused, by GLOBAL and by STACK_GLOBAL") {
  for (const auto& [module, name] : std::vector<std::pair<std::string, std::string>>{
           {"posix", "system"}, {"os", "system"}, {"nt", "system"}, {"builtins", "eval"}, {"builtins", "exec"},
           {"__builtin__", "getattr"}, {"subprocess", "Popen"}, {"torch._utils", "_rebuild_tensor_v3"},
           {"torch", "load"}, {"collections", "OrderedDictX"}, {"torch._utils", "_rebuild_tensor_v2 "}}) {
    CAPTURE(module);
    CAPTURE(name);
    const auto message = fmt::format("pytorch_model.bin: refusing to load global '{}.{}' (only tensor rebuilds are allowed)",
                                     module, name);
    CHECK_THROWS_WITH_AS(parse(refused(module, name)), message.c_str(), llmctl::Error);
    const auto stacked = PickleBytes().proto(4).op(0x8c).op(static_cast<unsigned>(module.size())).raw(module)
                             .op(0x8c).op(static_cast<unsigned>(name.size())).raw(name).op(0x93).stop().bytes();
    CHECK_THROWS_WITH_AS(parse(stacked), message.c_str(), llmctl::Error);
  }
  // The classic payload, at protocol 0.
  CHECK_THROWS_WITH_AS(parse("cos\nsystem\n(S'echo pwned'\ntR."), Contains("refusing to load global 'os.system'"),
                       llmctl::Error);
  // STACK_GLOBAL needs two strings.
  CHECK_THROWS_WITH_AS(parse(PickleBytes().proto(4).integer(1).str("system").op(0x93).stop().bytes()),
                       Contains("STACK_GLOBAL module is an int, not a str"), llmctl::Error);
  // A refused global deep inside a valid state dict is refused all the same.
  auto bytes = llmctl::test::state_dict_pickle({{"w", "FloatStorage", "0", 4, 0, {4}, {1}}});
  const auto at = bytes.find("torch\nFloatStorage\n");
  REQUIRE(at != std::string::npos);
  bytes.replace(at, 19, "posix\nsystem\n");
  CHECK_THROWS_WITH_AS(tensors_of(bytes), Contains("refusing to load global 'posix.system'"), llmctl::Error);
}

TEST_CASE("REDUCE and NEWOBJ call only the allowed rebuilds") {
  SUBCASE("a storage class is a dtype marker, not a callable") {
    const auto bytes = PickleBytes().proto(2).global("torch", "FloatStorage").empty_tuple().reduce().stop().bytes();
    CHECK_THROWS_WITH_AS(parse(bytes), "pytorch_model.bin: refusing to call global 'torch.FloatStorage' (only tensor rebuilds are allowed)",
                         llmctl::Error);
  }
  SUBCASE("a value that is no global at all") {
    const auto bytes = PickleBytes().proto(2).str("os.system").mark().str("id").tuple().reduce().stop().bytes();
    CHECK_THROWS_WITH_AS(parse(bytes), Contains("refusing to call a str"), llmctl::Error);
    const auto memo = PickleBytes().proto(2).empty_dict().put(0).get(0).empty_tuple().reduce().stop().bytes();
    CHECK_THROWS_WITH_AS(parse(memo), Contains("refusing to call a dict"), llmctl::Error);
  }
  SUBCASE("NEWOBJ on anything but OrderedDict") {
    const auto bytes = PickleBytes().proto(2).global("torch", "FloatStorage").empty_tuple().op(0x81).stop().bytes();
    CHECK_THROWS_WITH_AS(parse(bytes), Contains("refusing to instantiate global 'torch.FloatStorage'"), llmctl::Error);
    const auto ordered = PickleBytes().proto(2).global("collections", "OrderedDict").empty_tuple().op(0x81).stop().bytes();
    CHECK(parse(ordered).root.kind == PickleKind::dict);
  }
  SUBCASE("allowed callables with the wrong arguments") {
    const auto with_args = PickleBytes().proto(2).global("collections", "OrderedDict").mark().empty_list().tuple().reduce().stop().bytes();
    CHECK_THROWS_WITH_AS(parse(with_args), Contains("collections.OrderedDict called with arguments"), llmctl::Error);
    const auto rebuild = PickleBytes().proto(2).global("torch._utils", "_rebuild_tensor_v2").mark().integer(1).tuple().reduce().stop().bytes();
    CHECK_THROWS_WITH_AS(parse(rebuild), Contains("_rebuild_tensor_v2 takes 6 or 7 arguments, not 1"), llmctl::Error);
    const auto not_tuple = PickleBytes().proto(2).global("collections", "OrderedDict").empty_list().reduce().stop().bytes();
    CHECK_THROWS_WITH_AS(parse(not_tuple), Contains("REDUCE arguments are a list, not a tuple"), llmctl::Error);
  }
}

TEST_CASE("BUILD is accepted on an OrderedDict only") {
  const auto ordered = PickleBytes().proto(2).global("collections", "OrderedDict").empty_tuple().reduce()
                           .empty_dict().str("_metadata").none().setitem().build().stop().bytes();
  CHECK(parse(ordered).root.kind == PickleKind::dict);
  CHECK_THROWS_WITH_AS(parse(PickleBytes().proto(2).empty_dict().empty_dict().build().stop().bytes()),
                       "pytorch_model.bin: refusing BUILD on a dict at byte 4 (only OrderedDict state is accepted)", llmctl::Error);
  CHECK_THROWS_WITH_AS(parse(PickleBytes().proto(2).empty_list().empty_dict().build().stop().bytes()),
                       Contains("refusing BUILD on a list"), llmctl::Error);
  auto tensor = one_tensor(4, 0, {4}, {1});
  tensor.insert(tensor.rfind("u}"), ")b");  // BUILD on the tensor, with an empty tuple as state
  CHECK_THROWS_WITH_AS(tensors_of(tensor), Contains("refusing BUILD on a tensor"), llmctl::Error);
}

TEST_CASE("opcodes outside the accepted set are errors naming the opcode") {
  const std::vector<std::pair<std::string, std::string>> cases{
      {"i", "0x69 (INST)"},    {"o", "0x6f (OBJ)"},         {"P1\n", "0x50 (PERSID)"}, {"\x8b", "0x8b (LONG4)"},
      {"\x92", "0x92 (NEWOBJ_EX)"}, {"\x82\x01", "0x82 (EXT1)"}, {"I1\n", "0x49 (INT)"},  {"\x8f", "0x8f (EMPTY_SET)"},
      {"\xff", "0xff at byte 2"}, {"A", "0x41 at byte 2"},
  };
  for (const auto& [op, message] : cases) {
    CAPTURE(message);
    CHECK_THROWS_WITH_AS(parse("\x80\x02" + op + "."), Contains(("pytorch_model.bin: unsupported pickle opcode " + message).c_str()),
                         llmctl::Error);
  }
  CHECK_THROWS_WITH_AS(parse("\x80\x06N."), Contains("unsupported protocol 6"), llmctl::Error);
}

TEST_CASE("every truncation of a valid pickle is an error, never a crash") {
  const auto built = one_tensor(6, 1, {2, 2}, {1, 3});
  for (const auto* bytes : {&kProtocol2, &kProtocol4, &built}) {
    for (std::size_t length = 0; length < bytes->size(); ++length) {
      CAPTURE(length);
      CHECK_THROWS_AS(tensors_of(bytes->substr(0, length)), llmctl::Error);
    }
    CHECK(tensors_of(*bytes).size() >= 1);
  }
  CHECK_THROWS_WITH_AS(parse("\x80\x02X\xff\xff\xff\x7f" "abc"), "pytorch_model.bin: pickle is truncated (at byte 7)", llmctl::Error);
  CHECK_THROWS_WITH_AS(parse(raw("\x80\x04\x8d\xff\xff\xff\xff\xff\xff\xff\xff")), Contains("pickle is truncated"), llmctl::Error);
  CHECK_THROWS_WITH_AS(parse(raw("\x80\x04\x95\xff\xff\x00\x00\x00\x00\x00\x00N.")), Contains("pickle is truncated"), llmctl::Error);
  CHECK_THROWS_WITH_AS(parse("\x80\x02" "cos\nsys"), Contains("pickle is truncated"), llmctl::Error);
}

TEST_CASE("memo references must be defined") {
  CHECK_THROWS_WITH_AS(parse(PickleBytes().proto(2).get(5).stop().bytes()),
                       "pytorch_model.bin: bad pickle at byte 2: memo entry 5 is not defined", llmctl::Error);
  CHECK_THROWS_WITH_AS(parse(PickleBytes().proto(2).none().put(0).op('0').get(1000).stop().bytes()),
                       Contains("memo entry 1000 is not defined"), llmctl::Error);
  CHECK_THROWS_WITH_AS(parse(PickleBytes().proto(2).put(0).stop().bytes()), Contains("empty stack"), llmctl::Error);
}

TEST_CASE("malformed pickles are errors") {
  const auto error = [](const std::string& bytes, const std::string& message) {
    CAPTURE(message);
    CHECK_THROWS_WITH_AS(tensors_of(bytes), Contains(message.c_str()), llmctl::Error);
  };
  error(PickleBytes().proto(2).op('0').stop().bytes(), "no MARK to pop to");
  error(PickleBytes().proto(2).none().mark().setitem().stop().bytes(), "pop from an empty stack");  // across a MARK
  error(PickleBytes().proto(2).empty_dict().mark().none().setitems().stop().bytes(), "odd number");
  error(PickleBytes().proto(2).empty_tuple().none().op('a').stop().bytes(), "APPEND on a tuple");
  error(PickleBytes().proto(2).none().none().stop().bytes(), "does not hold exactly one value");
  error(PickleBytes().proto(2).mark().none().stop().bytes(), "does not hold exactly one value");
  error(PickleBytes().proto(2).stop().bytes(), "does not hold exactly one value");
  error(PickleBytes().proto(2).op(0x8a).op(9).le(0, 9).stop().bytes(), "wider than 64 bits");
  error(PickleBytes().proto(2).op('T').le(0xffffffff, 4).stop().bytes(), "negative length");
  // Persistent ids: ('storage', <storage class>, key, location, numel).
  const auto pid = [](const std::string& type, const std::string& module, const std::string& name, const std::string& key,
                      std::int64_t numel, bool with_numel = true) {
    PickleBytes p;
    p.proto(2).mark().str(type).global(module, name).str(key).str("cpu");
    if (with_numel) p.integer(numel);
    return p.tuple().persid().stop().bytes();
  };
  CHECK(parse(pid("storage", "torch", "HalfStorage", "0", 1)).root.kind == PickleKind::storage);
  error(pid("storage", "torch", "FloatStorage", "0", 1, false), "not a 5-tuple");
  error(pid("module", "torch", "FloatStorage", "0", 1), "persistent id type 'module' is not 'storage'");
  error(pid("storage", "collections", "OrderedDict", "0", 1), "not a storage class");
  error(pid("storage", "torch", "FloatStorage", "a/b", 1), "storage key 'a/b' is not a record name");
  error(pid("storage", "torch", "FloatStorage", "0", -1), "storage size is an int, not a non-negative int");
  error(PickleBytes().proto(2).none().stop().bytes(), "expected a state dict (a dict of tensors), found None");
  error(PickleBytes().proto(2).empty_dict().str("w").integer(1).setitem().stop().bytes(), "state dict entry 'w' is an int, not a tensor");
  error(PickleBytes().proto(2).empty_dict().integer(1).integer(1).setitem().stop().bytes(), "state dict key is an int");
}

TEST_CASE("tensor views must lie inside their storage") {
  CHECK(tensors_of(one_tensor(6, 0, {2, 3}, {3, 1})).size() == 1);
  CHECK(tensors_of(one_tensor(6, 5, {}, {})).size() == 1);      // a scalar at the last element
  CHECK(tensors_of(one_tensor(6, 6, {0, 3}, {3, 1})).size() == 1);  // empty, at the end
  CHECK(tensors_of(one_tensor(1, 0, {4, 4}, {0, 0})).size() == 1);  // expanded: stride 0
  CHECK_THROWS_WITH_AS(tensors_of(one_tensor(6, 1, {2, 3}, {3, 1})),
                       Contains("tensor view (offset 1, size [2, 3], stride [3, 1]) runs past its storage '0' of 6 elements"),
                       llmctl::Error);
  CHECK_THROWS_WITH_AS(tensors_of(one_tensor(6, 0, {3, 2}, {2, 3})), Contains("runs past its storage"), llmctl::Error);
  CHECK_THROWS_WITH_AS(tensors_of(one_tensor(6, 7, {0}, {1})), Contains("runs past its storage"), llmctl::Error);
  CHECK_THROWS_WITH_AS(tensors_of(one_tensor(6, 0, {std::uint64_t{1} << 40, std::uint64_t{1} << 40}, {1, 1})),
                       Contains("overflows"), llmctl::Error);
  CHECK_THROWS_WITH_AS(tensors_of(one_tensor(6, 0, {2, 3}, {3})), Contains("size and stride differ in length"), llmctl::Error);
  // One storage key may not change its dtype or size between tensors.
  const auto mixed = llmctl::test::state_dict_pickle(
      {{"a", "FloatStorage", "0", 6, 0, {6}, {1}}, {"b", "HalfStorage", "0", 6, 0, {6}, {1}}});
  CHECK_THROWS_WITH_AS(tensors_of(mixed), Contains("storage '0' is described twice"), llmctl::Error);
}

TEST_CASE("state dict names and tensor wrappers") {
  const auto twice = llmctl::test::state_dict_pickle({{"w", "FloatStorage", "0", 4, 0, {4}, {1}}, {"w", "FloatStorage", "0", 4, 0, {4}, {1}}});
  CHECK_THROWS_WITH_AS(tensors_of(twice), "pytorch_model.bin: state dict names tensor 'w' twice", llmctl::Error);
  const auto bad_utf8 = llmctl::test::state_dict_pickle({{"w\xff", "FloatStorage", "0", 4, 0, {4}, {1}}});
  CHECK_THROWS_WITH_AS(tensors_of(bad_utf8), Contains("not valid UTF-8"), llmctl::Error);

  // torch._utils._rebuild_parameter(tensor, requires_grad, backward_hooks) is the tensor itself.
  auto wrapped = one_tensor(4, 0, {4}, {1});
  const auto value_at = wrapped.find("X\x01\x00\x00\x00w", 0, 6) + 6 + 2;  // after the name and its BINPUT
  wrapped.insert(value_at, PickleBytes().global("torch._utils", "_rebuild_parameter").mark().bytes());
  wrapped.insert(wrapped.rfind("u}"), PickleBytes().boolean(true).empty_dict().tuple().reduce().bytes());
  const auto tensors = tensors_of(wrapped);
  REQUIRE(tensors.size() == 1);
  CHECK(tensors[0].second.shape == std::vector<std::uint64_t>{4});

  // Tensor metadata: flags that are off are fine, a set one (conj, neg) is refused.
  for (const bool set : {false, true}) {
    auto with_metadata = one_tensor(4, 0, {4}, {1});
    const auto hooks_end = with_metadata.find("h\x00)R", 0, 4);  // the first fetch of OrderedDict for backward_hooks
    REQUIRE(hooks_end != std::string::npos);
    with_metadata.insert(hooks_end + 4 + 2, PickleBytes().empty_dict().str("conj").boolean(set).setitem().bytes());
    if (set) {
      CHECK_THROWS_WITH_AS(tensors_of(with_metadata), Contains("tensor metadata 'conj' is not supported"), llmctl::Error);
    } else {
      CHECK(tensors_of(with_metadata).size() == 1);
    }
  }
}

TEST_CASE("random damage to a valid pickle is an error or a result, never a crash") {
  std::mt19937 random(20240601);
  for (int round = 0; round < 3000; ++round) {
    auto bytes = round % 2 == 0 ? kProtocol2 : kProtocol4;
    const auto edits = 1 + random() % 4;
    for (unsigned e = 0; e < edits; ++e) bytes[random() % bytes.size()] = static_cast<char>(random() % 256);
    try {
      tensors_of(bytes);
    } catch (const llmctl::Error&) {
    }
  }
}
