#include "tokenizer/utf8.hpp"

#include <doctest/doctest.h>

using namespace llmctl::engine;

TEST_CASE("lossy conversion replaces each maximal invalid subsequence with one U+FFFD") {
  CHECK(utf8::to_valid_lossy("ok") == "ok");
  CHECK(utf8::to_valid_lossy("a\xE4\xBD") == "a\xEF\xBF\xBD");             // truncated 3-byte sequence: one
  CHECK(utf8::to_valid_lossy("\xFF\xFE") == "\xEF\xBF\xBD\xEF\xBF\xBD");   // two invalid bytes: two
  CHECK(utf8::to_valid_lossy("\xED\xA0\x80") == "\xEF\xBF\xBD\xEF\xBF\xBD\xEF\xBF\xBD");  // surrogate
  CHECK(utf8::to_valid_lossy("\xE4\xBD" "a") == "\xEF\xBF\xBD" "a");
}

TEST_CASE("the complete prefix stops before an unfinished character only") {
  CHECK(utf8::complete_prefix_length("abc") == 3);
  CHECK(utf8::complete_prefix_length("ab\xE4\xBD") == 2);
  CHECK(utf8::complete_prefix_length("ab\xF0\x9F\x98") == 2);
  CHECK(utf8::complete_prefix_length("ab\xF0\x9F\x98\x80") == 6);
  CHECK(utf8::complete_prefix_length("ab\xFF") == 3);  // invalid, not unfinished: nothing to wait for
}

TEST_CASE("validity and Unicode whitespace") {
  CHECK(utf8::is_valid("你好 😀"));
  CHECK_FALSE(utf8::is_valid("\xC0\xAF"));  // overlong
  CHECK(utf8::is_whitespace(0x3000));
  CHECK(utf8::is_whitespace(0xA0));
  CHECK_FALSE(utf8::is_whitespace(0x200B));  // zero-width space is not White_Space
}
