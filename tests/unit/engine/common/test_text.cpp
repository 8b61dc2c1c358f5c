#include "common/text.hpp"

#include <doctest/doctest.h>

TEST_CASE("closest match for suggestions") {
  CHECK(llmctl::edit_distance("inspct", "inspect") == 1);
  CHECK(llmctl::edit_distance("", "abc") == 3);
  CHECK(llmctl::closest_match("mem-estimat", {"inspect", "mem-estimate"}) == "mem-estimate");
  CHECK(llmctl::closest_match("x", {}).empty());
}

TEST_CASE("numbers for people") {
  CHECK(llmctl::format_thousands(7'615'616'512) == "7,615,616,512");
  CHECK(llmctl::format_thousands(999) == "999");
  CHECK(llmctl::format_thousands(1000) == "1,000");
  CHECK(llmctl::format_count(7'615'616'512) == "7.62B");
  CHECK(llmctl::format_count(494'032'768) == "494.0M");
  CHECK(llmctl::format_count(139'712) == "139.7K");
  CHECK(llmctl::format_bytes(57344) == "56.00 KiB");
  CHECK(llmctl::format_bytes(512) == "512 B");
  CHECK(llmctl::format_bytes(15'231'233'024.0) == "14.19 GiB");
  CHECK(llmctl::format_number(1000000.0) == "1000000");
  CHECK(llmctl::format_number(1e-6) == "1e-06");
}

TEST_CASE("the end of a text that may still become a pattern") {
  CHECK(llmctl::partial_match_at_end("abc</thi", "</think>") == 5);
  CHECK(llmctl::partial_match_at_end("abc<", "</think>") == 1);
  CHECK(llmctl::partial_match_at_end("abc</think>", "</think>") == 0);  // complete: not partial
  CHECK(llmctl::partial_match_at_end("abc", "</think>") == 0);
  CHECK(llmctl::partial_match_at_end("aaa", "aab") == 2);  // the longest of several
  CHECK(llmctl::partial_match_at_end("xy", "") == 0);
}
