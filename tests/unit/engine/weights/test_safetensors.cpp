#include "weights/safetensors.hpp"

#include "common/error.hpp"
#include "common/json_file.hpp"
#include "support/test_files.hpp"

#include <doctest/doctest.h>

using namespace llmctl::engine;
using llmctl::test::safetensors_bytes;
using llmctl::test::TempDir;
using llmctl::test::write_file;
using doctest::Contains;

namespace {

SafetensorsHeader parse_bytes(const std::string& bytes) {
  const auto header_bytes = parse_safetensors_prefix(bytes.substr(0, 8), bytes.size(), "test.safetensors");
  return parse_safetensors_header(std::string_view(bytes).substr(8, header_bytes), bytes.size(), "test.safetensors");
}

std::string header(const std::string& tensors_json) { return "{" + tensors_json + "}"; }

}  // namespace

TEST_CASE("a well-formed file: tensors in data order, dtypes, shapes, metadata") {
  const auto bytes = llmctl::test::safetensors_file({{"b.weight", "BF16", {4, 8}, 2}, {"a.bias", "F32", {8}, 4},
                                                     {"scale", "F8_E4M3", {3}, 1}});
  const auto parsed = parse_bytes(bytes);
  REQUIRE(parsed.tensors.size() == 3);
  CHECK(parsed.tensors[0].name == "b.weight");
  CHECK(parsed.tensors[0].dtype == DType::bf16);
  CHECK(parsed.tensors[0].shape == std::vector<std::uint64_t>{4, 8});
  CHECK(parsed.tensors[0].elements == 32);
  CHECK(parsed.tensors[1].begin == 64);
  CHECK(parsed.tensors[2].dtype == DType::f8_e4m3);
  CHECK(parsed.metadata.at("format") == "pt");
  CHECK(parsed.data_bytes == 64 + 32 + 3);
  CHECK(parsed.data_offset() == 8 + parsed.header_bytes);
}

TEST_CASE("files written by the reference library read back as it describes them") {
  for (const auto* name : {"tiny-llama3", "tiny-qwen2", "tiny-mistral"}) {
    CAPTURE(name);
    const auto folder = llmctl::test::kFixtures / "tiny-models" / name;
    const auto expected = llmctl::read_json_file(folder / "expected.json")["tensors"];
    const auto parsed = read_safetensors_header(folder / "model.safetensors");
    CHECK(parsed.tensors.size() == expected.size());
    for (const auto& tensor : parsed.tensors) {
      CAPTURE(tensor.name);
      CHECK(expected[tensor.name]["dtype"] == std::string(llmctl::engine::name(tensor.dtype)));
      CHECK(expected[tensor.name]["shape"].get<std::vector<std::uint64_t>>() == tensor.shape);
    }
  }
}

TEST_CASE("zero-sized tensors and empty files are valid") {
  const auto parsed = parse_bytes(safetensors_bytes(header(R"("empty": {"dtype": "F32", "shape": [0, 4], "data_offsets": [0, 0]})"), 0));
  CHECK(parsed.tensors.at(0).elements == 0);
  CHECK(parse_bytes(safetensors_bytes("{}", 0)).tensors.empty());
  CHECK(parse_bytes(safetensors_bytes("{}    ", 0)).tensors.empty());  // space padding is allowed
}

TEST_CASE("malformed headers are clear errors") {
  struct Case {
    const char* what;
    std::string bytes;
    const char* message;
  };
  const std::string ok_tensor = R"("t": {"dtype": "F32", "shape": [2], "data_offsets": [0, 8]})";
  const std::vector<Case> cases = {
      {"not JSON", safetensors_bytes("{not json", 0), "the header is not valid JSON"},
      {"a JSON array", safetensors_bytes("[1, 2]", 0), "the header is not a JSON object"},
      {"an unknown dtype", safetensors_bytes(header(R"("t": {"dtype": "F12", "shape": [2], "data_offsets": [0, 3]})"), 3),
       "tensor 't' has unknown dtype 'F12'"},
      {"a negative dimension", safetensors_bytes(header(R"("t": {"dtype": "F32", "shape": [-2], "data_offsets": [0, 8]})"), 8),
       "negative or non-integer dimension"},
      {"a missing field", safetensors_bytes(header(R"("t": {"dtype": "F32", "shape": [2]})"), 8), "needs dtype, shape and data_offsets"},
      {"a range of the wrong size", safetensors_bytes(header(R"("t": {"dtype": "F32", "shape": [2], "data_offsets": [0, 7]})"), 7),
       "needs 8 bytes but its data_offsets span 7"},
      {"overlapping tensors",
       safetensors_bytes(header(ok_tensor + R"(, "u": {"dtype": "F32", "shape": [2], "data_offsets": [4, 12]})"), 12),
       "tensor 'u' starts at byte 4 of the data, expected 8"},
      {"a gap", safetensors_bytes(header(R"("t": {"dtype": "F32", "shape": [2], "data_offsets": [4, 12]})"), 12),
       "starts at byte 4 of the data, expected 0"},
      {"bytes past the last tensor", safetensors_bytes(header(ok_tensor), 9), "the tensors cover 8 bytes but the file holds 9"},
      {"truncated data", safetensors_bytes(header(ok_tensor), 5), "the tensors cover 8 bytes but the file holds 5"},
      {"an element count that overflows",
       safetensors_bytes(header(R"("t": {"dtype": "F32", "shape": [4294967296, 4294967296, 16], "data_offsets": [0, 8]})"), 8),
       "a shape too large to address"},
      {"a byte count that overflows",
       safetensors_bytes(header(R"("t": {"dtype": "F64", "shape": [4294967296, 536870912], "data_offsets": [0, 8]})"), 8),
       "a shape too large to address"},
      {"ends before it begins", safetensors_bytes(header(R"("t": {"dtype": "F32", "shape": [2], "data_offsets": [8, 0]})"), 8),
       "ends before it begins"},
      {"non-string metadata", safetensors_bytes(header(R"("__metadata__": {"n": 1})"), 0), "__metadata__ value of 'n' is not a string"},
  };
  for (const auto& c : cases) {
    CAPTURE(c.what);
    CHECK_THROWS_WITH_AS(parse_bytes(c.bytes), Contains(c.message), llmctl::Error);
  }
}

TEST_CASE("the length prefix is checked before anything is allocated") {
  CHECK_THROWS_WITH_AS(parse_safetensors_prefix("abc", 3, "x"), Contains("the file is only 3 bytes long"), llmctl::Error);
  // A prefix claiming 1 TiB must fail on the limit, not by trying to read or allocate it.
  std::string huge(8, '\0');
  huge[5] = 1;  // 2^40
  CHECK_THROWS_WITH_AS(parse_safetensors_prefix(huge, 1ull << 41, "x"), Contains("the header claims 1099511627776 bytes (the limit is 100000000)"), llmctl::Error);
  std::string past_end(8, '\0');
  past_end[0] = 100;
  CHECK_THROWS_WITH_AS(parse_safetensors_prefix(past_end, 50, "x"), Contains("(truncated?)"), llmctl::Error);
}

TEST_CASE("reading files: truncated, empty and non-safetensors files") {
  TempDir dir;
  const auto good = llmctl::test::safetensors_file({{"t", "F16", {16}, 2}});
  write_file(dir / "truncated.safetensors", good.substr(0, good.size() - 1));
  CHECK_THROWS_WITH_AS(read_safetensors_header(dir / "truncated.safetensors"), Contains("truncated.safetensors: not a valid safetensors file"), llmctl::Error);
  write_file(dir / "empty.safetensors", "");
  CHECK_THROWS_WITH_AS(read_safetensors_header(dir / "empty.safetensors"), Contains("the file is only 0 bytes long"), llmctl::Error);
  write_file(dir / "text.safetensors", "This is a text file, not a model.\n");
  CHECK_THROWS_AS(read_safetensors_header(dir / "text.safetensors"), llmctl::Error);
  CHECK_THROWS_WITH_AS(read_safetensors_header(dir / "absent.safetensors"), Contains("absent.safetensors"), llmctl::Error);
  write_file(dir / "good.safetensors", good);
  CHECK(read_safetensors_header(dir / "good.safetensors").tensors.size() == 1);
}
