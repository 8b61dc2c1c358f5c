#include "libhub/hf_cache.hpp"

#include "support/test_files.hpp"

#include <doctest/doctest.h>

#include <cstdlib>

using namespace llmctl::hub;
namespace fs = std::filesystem;

TEST_CASE("the Hugging Face cache layout: blobs by hash, relative snapshot links, refs, CACHEDIR.TAG") {
  llmctl::test::TempDir dir;
  const auto layout = make_hf_cache_layout(dir.path());
  const Snapshot snapshot{"org/model", "main", std::string(40, 'a'), {}};
  const RemoteFile file{"onnx/deep/weights.bin", 5, HashKind::sha256, std::string(64, 'b')};
  const auto target = layout->target(snapshot, file);
  CHECK(target.destination == dir / "models--org--model" / "blobs" / std::string(64, 'b'));
  CHECK(target.content_addressed);
  CHECK_FALSE(target.partial.string().ends_with(".incomplete"));  // huggingface_hub <= 1.17 would promote it unchecked
  CHECK_FALSE(layout->have(snapshot, file));
  fs::create_directories(target.destination.parent_path());
  llmctl::test::write_file(target.destination, "bytes");
  CHECK(layout->have(snapshot, file));
  layout->publish(snapshot, file);
  const fs::path link = dir / "models--org--model" / "snapshots" / std::string(40, 'a') / "onnx" / "deep" / "weights.bin";
  CHECK(fs::read_symlink(link) == fs::path("../../../../blobs") / std::string(64, 'b'));
  CHECK(llmctl::test::read_file(link) == "bytes");
  CHECK(layout->finish(snapshot) == link.parent_path().parent_path().parent_path());
  CHECK(llmctl::test::read_file(dir / "models--org--model" / "refs" / "main") == std::string(40, 'a'));
  CHECK(llmctl::test::read_file(dir / "CACHEDIR.TAG").starts_with("Signature: 8a477f597d28d172789f06886806bc55"));
  CHECK(cached_snapshot(dir.path(), "org/model", "main") == link.parent_path().parent_path().parent_path());
  CHECK(cached_snapshot(dir.path(), "org/model", std::string(40, 'a')));
  CHECK_FALSE(cached_snapshot(dir.path(), "org/model", "v2"));
  CHECK_FALSE(cached_snapshot(dir.path(), "org/other", "main"));
}

TEST_CASE("ModelScope's folder names: dots become ___, the owner stays") {
  CHECK(modelscope_folder("Qwen/Qwen2.5-7B-Instruct", fs::path("/c")) == fs::path("/c/Qwen/Qwen2___5-7B-Instruct"));
  ::setenv("MODELSCOPE_CACHE", "/ms", 1);
  CHECK(modelscope_folder("org.x/a.b.c", std::nullopt) == fs::path("/ms/models/org.x/a___b___c"));
  ::unsetenv("MODELSCOPE_CACHE");
}
