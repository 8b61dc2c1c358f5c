#include "weights/pytorch_bin.hpp"

#include "common/error.hpp"
#include "support/test_files.hpp"
#include "support/torch_bin.hpp"

#include <doctest/doctest.h>

#include <cstring>
#include <random>

using namespace llmctl::engine;
using llmctl::test::FakeBinTensor;
using llmctl::test::raw_bytes;
using llmctl::test::TempDir;
using llmctl::test::write_file;
using llmctl::test::write_torch_bin;
using doctest::Contains;

namespace {

struct Visited {
  std::string name;
  DType dtype;
  std::vector<std::int64_t> shape;
  std::string bytes;
};

std::vector<Visited> read_all(const std::filesystem::path& file) {
  std::vector<Visited> visited;
  read_pytorch_bin(file, [&](const std::string& name, const HostTensor& tensor) {
    visited.push_back({name, tensor.dtype, tensor.shape,
                       std::string(reinterpret_cast<const char*>(tensor.data.data()), tensor.data.size())});
  });
  return visited;
}

// f32 storage 0 holds 0..5, bf16 storage 1 holds 1..4, i64 storage 2 holds 10, 20, 30.
const std::vector<FakeBinTensor> kTensors{
    {"model.embed_tokens.weight", "FloatStorage", "0", 6, 0, {2, 3}, {3, 1}},
    {"lm_head.weight", "FloatStorage", "0", 6, 0, {2, 3}, {3, 1}},  // tied: the same view of the same storage
    {"transposed", "FloatStorage", "0", 6, 1, {2, 2}, {1, 3}},      // [[1, 4], [2, 5]]
    {"slice", "FloatStorage", "0", 6, 3, {3}, {1}},                  // contiguous at an offset
    {"model.norm.weight", "BFloat16Storage", "1", 4, 0, {4}, {1}},
    {"scalar", "LongStorage", "2", 3, 2, {}, {}},
    {"expanded", "LongStorage", "2", 3, 0, {2, 3}, {0, 1}},
    {"empty", "FloatStorage", "0", 6, 0, {0, 3}, {3, 1}},
};

const std::map<std::string, std::string> kStorages{
    {"0", raw_bytes(std::vector<float>{0, 1, 2, 3, 4, 5})},
    {"1", raw_bytes(std::vector<std::uint16_t>{0x3f80, 0x4000, 0x4040, 0x4080})},
    {"2", raw_bytes(std::vector<std::int64_t>{10, 20, 30})},
};

std::filesystem::path write_model(const TempDir& dir, const std::string& prefix = "archive") {
  const auto path = dir / "pytorch_model.bin";
  write_torch_bin(path, llmctl::test::state_dict_pickle(kTensors), kStorages, prefix);
  return path;
}

}  // namespace

TEST_CASE("listing a .bin reads names, dtypes and shapes from data.pkl alone") {
  TempDir dir;
  const auto tensors = list_pytorch_bin_tensors(write_model(dir));
  REQUIRE(tensors.size() == kTensors.size());
  for (std::size_t i = 0; i < kTensors.size(); ++i) {
    CAPTURE(i);
    CHECK(tensors[i].name == kTensors[i].name);  // pickle order
    CHECK(tensors[i].shape == kTensors[i].shape);
    CHECK(tensors[i].begin == 0);
    CHECK(tensors[i].end == 0);
  }
  CHECK(tensors[0].dtype == DType::f32);
  CHECK(tensors[0].elements == 6);
  CHECK(tensors[4].dtype == DType::bf16);
  CHECK(tensors[5].dtype == DType::i64);
  CHECK(tensors[5].elements == 1);
  CHECK(tensors[7].elements == 0);
}

TEST_CASE("reading a .bin: views are made contiguous, tied tensors are each delivered") {
  TempDir dir;
  const auto visited = read_all(write_model(dir));
  REQUIRE(visited.size() == kTensors.size());
  for (std::size_t i = 0; i < kTensors.size(); ++i) CHECK(visited[i].name == kTensors[i].name);
  CHECK(visited[0].dtype == DType::f32);
  CHECK(visited[0].shape == std::vector<std::int64_t>{2, 3});
  CHECK(visited[0].bytes == raw_bytes(std::vector<float>{0, 1, 2, 3, 4, 5}));
  CHECK(visited[1].bytes == visited[0].bytes);
  CHECK(visited[2].bytes == raw_bytes(std::vector<float>{1, 4, 2, 5}));
  CHECK(visited[3].bytes == raw_bytes(std::vector<float>{3, 4, 5}));
  CHECK(visited[4].dtype == DType::bf16);
  CHECK(visited[4].bytes == kStorages.at("1"));
  CHECK(visited[5].shape.empty());
  CHECK(visited[5].bytes == raw_bytes(std::vector<std::int64_t>{30}));
  CHECK(visited[6].bytes == raw_bytes(std::vector<std::int64_t>{10, 20, 30, 10, 20, 30}));
  CHECK(visited[7].shape == std::vector<std::int64_t>{0, 3});
  CHECK(visited[7].bytes.empty());
}

TEST_CASE("a larger strided view: a permuted 3-d tensor at an offset") {
  TempDir dir;
  // Storage of 1 + 2*3*4 floats; the view is the [4, 2, 3] permutation of a row-major [2, 3, 4] block at 1.
  std::vector<float> values(25);
  for (std::size_t i = 0; i < values.size(); ++i) values[i] = static_cast<float>(i);
  const auto path = dir / "pytorch_model.bin";
  write_torch_bin(path, llmctl::test::state_dict_pickle({{"w", "FloatStorage", "0", 25, 1, {4, 2, 3}, {1, 12, 4}}}),
                  {{"0", raw_bytes(values)}});
  std::vector<float> expected;
  for (std::size_t k = 0; k < 4; ++k)
    for (std::size_t i = 0; i < 2; ++i)
      for (std::size_t j = 0; j < 3; ++j) expected.push_back(static_cast<float>(1 + i * 12 + j * 4 + k));
  const auto visited = read_all(path);
  REQUIRE(visited.size() == 1);
  CHECK(visited[0].bytes == raw_bytes(expected));
}

TEST_CASE("the archive's top-level folder is whatever torch.save named it; deflated records read too") {
  TempDir dir;
  for (const auto* prefix : {"archive", "pytorch_model", "my.model"}) {
    CAPTURE(prefix);
    CHECK(read_all(write_model(dir, prefix)).size() == kTensors.size());
  }
  const auto path = dir / "deflated.bin";
  llmctl::test::write_zip(path, {{"archive/data.pkl", llmctl::test::state_dict_pickle(kTensors, false)},
                                 {"archive/data/0", kStorages.at("0")},
                                 {"archive/data/1", kStorages.at("1")},
                                 {"archive/data/2", kStorages.at("2")}},
                          true);
  const auto visited = read_all(path);
  REQUIRE(visited.size() == kTensors.size());
  CHECK(visited[2].bytes == raw_bytes(std::vector<float>{1, 4, 2, 5}));
}

TEST_CASE("files that are not torch.save zip archives") {
  TempDir dir;
  const auto path = dir / "pytorch_model.bin";
  SUBCASE("the legacy format: a bare pickle stream") {
    write_file(path, std::string("\x80\x02\x8a\x0a\x6c\xfc\x9c\x46\xf9\x20\x6a\xa8\x50\x19.\x80\x02M\xe9\x03.", 21));
    const auto message = path.string() +
                         ": legacy (non-zip) PyTorch format is not supported; re-save it with torch>=1.6 or convert to safetensors";
    CHECK_THROWS_WITH_AS(list_pytorch_bin_tensors(path), message.c_str(), llmctl::Error);
    CHECK_THROWS_WITH_AS(read_all(path), message.c_str(), llmctl::Error);
  }
  SUBCASE("something else") {
    write_file(path, "version https://git-lfs.github.com/spec/v1\n");
    CHECK_THROWS_WITH_AS(list_pytorch_bin_tensors(path), Contains("pytorch_model.bin: not a PyTorch checkpoint (not a zip archive)"),
                         llmctl::Error);
  }
  SUBCASE("a missing file") {
    CHECK_THROWS_WITH_AS(list_pytorch_bin_tensors(path), Contains("pytorch_model.bin: cannot open the zip archive"), llmctl::Error);
  }
  SUBCASE("a zip without data.pkl") {
    llmctl::test::write_zip(path, {{"archive/version", "3\n"}});
    CHECK_THROWS_WITH_AS(list_pytorch_bin_tensors(path), Contains("no data.pkl in the zip archive"), llmctl::Error);
  }
  SUBCASE("a zip with two") {
    llmctl::test::write_zip(path, {{"a/data.pkl", "N."}, {"b/data.pkl", "N."}});
    CHECK_THROWS_WITH_AS(list_pytorch_bin_tensors(path), Contains("more than one data.pkl in the archive (a/ and b/)"), llmctl::Error);
  }
}

TEST_CASE("damaged .bin archives are errors naming the file") {
  TempDir dir;
  const auto path = dir / "pytorch_model.bin";
  const auto pickle = llmctl::test::state_dict_pickle(kTensors);
  const auto check_both = [&](const std::string& message) {
    CAPTURE(message);
    CHECK_THROWS_WITH_AS(list_pytorch_bin_tensors(path), Contains(message.c_str()), llmctl::Error);
    CHECK_THROWS_WITH_AS(read_all(path), Contains(message.c_str()), llmctl::Error);
  };
  SUBCASE("a storage record is missing") {
    auto storages = kStorages;
    storages.erase("1");
    write_torch_bin(path, pickle, storages);
    check_both(path.string() + ": storage record archive/data/1 of tensor 'model.norm.weight' is missing");
  }
  SUBCASE("a storage record of the wrong size") {
    auto storages = kStorages;
    storages["0"].pop_back();
    write_torch_bin(path, pickle, storages);
    check_both("storage record archive/data/0 holds 23 bytes, but 6 elements of F32 need 24");
  }
  SUBCASE("big-endian data") {
    llmctl::test::write_zip(path, {{"archive/data.pkl", pickle}, {"archive/byteorder", "big"}});
    check_both("big-endian checkpoints are not supported");
  }
  SUBCASE("a global outside the allow-list") {
    auto hostile = pickle;
    hostile.replace(hostile.find("torch\nFloatStorage\n"), 19, "posix\nsystem\n");
    write_torch_bin(path, hostile, kStorages);
    check_both(path.string() + ": refusing to load global 'posix.system' (only tensor rebuilds are allowed)");
  }
  SUBCASE("a view past the end of its storage") {
    write_torch_bin(path, llmctl::test::state_dict_pickle({{"w", "FloatStorage", "0", 6, 4, {3}, {1}}}), kStorages);
    check_both("runs past its storage '0' of 6 elements");
  }
  SUBCASE("a truncated file, at many lengths") {
    write_torch_bin(path, pickle, kStorages);
    const auto bytes = llmctl::test::read_file(path);
    for (std::size_t length = 0; length < bytes.size(); length += 7) {
      CAPTURE(length);
      write_file(path, bytes.substr(0, length));
      CHECK_THROWS_AS(read_all(path), llmctl::Error);
    }
    write_file(path, bytes.substr(0, bytes.size() - 1));
    CHECK_THROWS_WITH_AS(read_all(path), Contains("damaged zip archive"), llmctl::Error);
  }
  SUBCASE("random damage: an error or a result, never a crash") {
    write_torch_bin(path, pickle, kStorages);
    const auto bytes = llmctl::test::read_file(path);
    std::mt19937 random(7);
    for (int round = 0; round < 300; ++round) {
      auto damaged = bytes;
      for (int e = 0; e < 3; ++e) damaged[random() % damaged.size()] = static_cast<char>(random() % 256);
      write_file(path, damaged);
      try {
        read_all(path);
      } catch (const llmctl::Error&) {
      }
    }
  }
}
