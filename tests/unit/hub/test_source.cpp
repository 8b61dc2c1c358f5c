#include "libhub/source.hpp"

#include "common/error.hpp"

#include <doctest/doctest.h>

using namespace llmctl::hub;

TEST_CASE("file names from a listing must stay inside the download folder") {
  for (const char* good : {"config.json", "onnx/model.onnx", "a/b/c.txt", ".gitattributes", "..hidden"}) {
    CHECK_NOTHROW(check_repo_path(good));
  }
  for (const char* bad : {"../evil", "a/../../evil", "/etc/passwd", "a//b", "a\\b", "", ".", "a/./b", "a/"}) {
    CAPTURE(bad);
    CHECK_THROWS_WITH_AS(check_repo_path(bad), doctest::Contains("would leave the download folder"), llmctl::Error);
  }
}
