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

TEST_CASE("a character's length is its valid sequence, or one byte when broken") {
  CHECK(utf8::character_length("\xF0\x9F\x98\x80", 0) == 4);
  CHECK(utf8::character_length("\xF0\x9F\x98", 0) == 1);  // cut short
  CHECK(utf8::character_length("\xC3(", 0) == 1);
  std::size_t pos = 0;
  CHECK(utf8::next_code_point("\xFF" "a", pos) == 0xFFFD);
  CHECK(pos == 1);
}

TEST_CASE("validity and Unicode whitespace") {
  CHECK(utf8::is_valid("你好 😀"));
  CHECK_FALSE(utf8::is_valid("\xC0\xAF"));  // overlong
  CHECK(utf8::is_whitespace(0x3000));
  CHECK(utf8::is_whitespace(0xA0));
  CHECK_FALSE(utf8::is_whitespace(0x200B));  // zero-width space is not White_Space
}
