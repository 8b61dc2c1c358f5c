#include "libhub/hashing.hpp"

#include "common/error.hpp"
#include "support/test_files.hpp"

#include <doctest/doctest.h>

using namespace llmctl::hub;

TEST_CASE("sha256 and git's blob sha1, whole or in pieces") {
  // `printf 'hello\n' | git hash-object --stdin` and `| sha256sum`
  Hasher blob(HashKind::git_blob_sha1, 6);
  blob.update("hel");
  blob.update("lo\n");
  CHECK(blob.hex() == "ce013625030ba8dba906f756967f9e9ca394464a");
  Hasher sha(HashKind::sha256, 6);
  sha.update("hello\n");
  CHECK(sha.hex() == "5891b5b522d5df086d0ff0b110fbd9d21bb4fc7163af34d08286a2e846f6be03");
  llmctl::test::TempDir dir;
  llmctl::test::write_file(dir / "f", "hello\n");
  CHECK(hash_file(dir / "f", HashKind::git_blob_sha1) == "ce013625030ba8dba906f756967f9e9ca394464a");
  llmctl::test::write_file(dir / "empty", "");
  CHECK(hash_file(dir / "empty", HashKind::sha256) == "e3b0c44298fc1c149afbf4c8996fb92427ae41e4649b934ca495991b7852b855");
  CHECK_THROWS_AS(hash_file(dir / "missing", HashKind::sha256), llmctl::Error);
}
