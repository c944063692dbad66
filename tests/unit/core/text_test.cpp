// Tests of core/text.h: strict integer parsing, case-insensitive comparison, JSON escaping.
#include "core/text.h"

#include <doctest/doctest.h>

using rl::core::parse_int64;

TEST_CASE("parse_int64 accepts whole decimal numbers only") {
  CHECK(parse_int64("0") == 0);
  CHECK(parse_int64("-42") == -42);
  CHECK(parse_int64("9223372036854775807") == INT64_MAX);
  CHECK_FALSE(parse_int64(""));
  CHECK_FALSE(parse_int64("+5"));
  CHECK_FALSE(parse_int64("0x10"));
  CHECK_FALSE(parse_int64("1_0"));
  CHECK_FALSE(parse_int64(" 1"));
  CHECK_FALSE(parse_int64("18446744073709551616"));
}

TEST_CASE("append_json_string escapes controls and replaces invalid UTF-8") {
  std::string out;
  rl::core::append_json_string(out, std::string_view("a\"b\\c\n\x01\xff\xc3\xa9", 10));
  CHECK(out == "\"a\\\"b\\\\c\\n\\u0001\xEF\xBF\xBD\xC3\xA9\"");
}
