// Tests of core/text.h: strict integer parsing, case-insensitive comparison, trimming,
// append_int, percent-decoding and JSON escaping (malformed UTF-8 included).
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

namespace {

// True when `s` is well-formed UTF-8 (RFC 3629: no overlongs, surrogates or code points past
// U+10FFFF), written independently of core/text.cpp.
bool is_valid_utf8(std::string_view s) {
  std::size_t i = 0;
  while (i < s.size()) {
    const auto c = static_cast<unsigned char>(s[i]);
    std::size_t n = 0;
    std::uint32_t cp = 0;
    if (c < 0x80) {
      n = 1;
      cp = c;
    } else if ((c & 0xE0) == 0xC0) {
      n = 2;
      cp = c & 0x1F;
    } else if ((c & 0xF0) == 0xE0) {
      n = 3;
      cp = c & 0x0F;
    } else if ((c & 0xF8) == 0xF0) {
      n = 4;
      cp = c & 0x07;
    } else {
      return false;
    }
    if (i + n > s.size()) return false;
    for (std::size_t k = 1; k < n; ++k) {
      const auto cc = static_cast<unsigned char>(s[i + k]);
      if ((cc & 0xC0) != 0x80) return false;
      cp = (cp << 6) | (cc & 0x3F);
    }
    static constexpr std::uint32_t kMin[] = {0, 0, 0x80, 0x800, 0x10000};
    if (cp < kMin[n] || cp > 0x10FFFF || (cp >= 0xD800 && cp <= 0xDFFF)) return false;
    i += n;
  }
  return true;
}

std::string json_string(std::string_view text) {
  std::string out;
  rl::core::append_json_string(out, text);
  return out;
}

constexpr std::string_view kReplacement = "\xEF\xBF\xBD";

std::string replacements(int n) {
  std::string out;
  for (int i = 0; i < n; ++i)
    out.append(kReplacement);
  return out;
}

}  // namespace

TEST_CASE("parse_int64 handles the extremes of the range and lone signs") {
  CHECK(parse_int64("-9223372036854775808") == INT64_MIN);
  CHECK_FALSE(parse_int64("-9223372036854775809"));
  CHECK_FALSE(parse_int64("9223372036854775808"));
  CHECK(parse_int64("-0") == 0);
  CHECK_FALSE(parse_int64("-"));
  CHECK_FALSE(parse_int64("1 "));
  CHECK_FALSE(parse_int64("1.0"));
  CHECK_FALSE(parse_int64("1e3"));
}

TEST_CASE("iequals compares ASCII letters without regard to case and nothing else") {
  using rl::core::iequals;
  CHECK(iequals("Content-Type", "content-type"));
  CHECK(iequals("X-API-KEY", "x-api-key"));
  CHECK(iequals("", ""));
  CHECK_FALSE(iequals("abc", "abcd"));
  CHECK_FALSE(iequals("abc", "abd"));
  CHECK_FALSE(iequals("@", "`"));  // 0x40 and 0x60 differ by the case bit but are not letters
  CHECK_FALSE(iequals("[", "{"));
  CHECK_FALSE(iequals("\xC3\x89", "\xC3\xA9"));  // no Unicode case folding
}

TEST_CASE("trim removes spaces, tabs, CR and LF from both ends only") {
  using rl::core::trim;
  CHECK(trim(" \t a b \r\n") == "a b");
  CHECK(trim("a") == "a");
  CHECK(trim("") == "");
  CHECK(trim(" \t\r\n ") == "");
  CHECK(trim("a \t b") == "a \t b");
}

TEST_CASE("append_int appends the decimal form of any 64-bit value") {
  std::string out = "n=";
  rl::core::append_int(out, 0);
  out.push_back(',');
  rl::core::append_int(out, -1);
  out.push_back(',');
  rl::core::append_int(out, INT64_MAX);
  out.push_back(',');
  rl::core::append_int(out, INT64_MIN);
  CHECK(out == "n=0,-1,9223372036854775807,-9223372036854775808");
}

TEST_CASE("percent_decode decodes escapes in either hex case") {
  std::string out;
  CHECK(rl::core::percent_decode("a%20b", out));
  CHECK(out == "a b");
  CHECK(rl::core::percent_decode("%2f%2F%41", out));
  CHECK(out == "//A");
  CHECK(rl::core::percent_decode("100%25", out));
  CHECK(out == "100%");
  CHECK(rl::core::percent_decode("a+b", out));
  CHECK(out == "a+b");
  CHECK(rl::core::percent_decode("%00", out));
  CHECK(out == std::string(1, '\0'));
  CHECK(rl::core::percent_decode("", out));
  CHECK(out.empty());
}

TEST_CASE("percent_decode replaces what was in the output buffer") {
  std::string out = "stale";
  CHECK(rl::core::percent_decode("x", out));
  CHECK(out == "x");
}

TEST_CASE("percent_decode refuses malformed escapes") {
  std::string out;
  for (std::string_view bad : {"%", "%4", "abc%", "abc%2", "%g1", "%1g", "%%", "a%-1b", "% 1"}) {
    CAPTURE(bad);
    CHECK_FALSE(rl::core::percent_decode(bad, out));
  }
}

TEST_CASE("append_json_string keeps valid UTF-8 of every length") {
  CHECK(json_string("\xC3\xA9") == "\"\xC3\xA9\"");                  // U+00E9
  CHECK(json_string("\xE2\x82\xAC") == "\"\xE2\x82\xAC\"");          // U+20AC
  CHECK(json_string("\xF0\x9F\x98\x80") == "\"\xF0\x9F\x98\x80\"");  // U+1F600
  CHECK(json_string("\xF4\x8F\xBF\xBF") == "\"\xF4\x8F\xBF\xBF\"");  // U+10FFFF
  CHECK(json_string("\xED\x9F\xBF") == "\"\xED\x9F\xBF\"");          // U+D7FF
  CHECK(json_string("\xE2\x80\xA8") == "\"\xE2\x80\xA8\"");          // U+2028 is valid JSON
}

TEST_CASE("append_json_string replaces overlong encodings") {
  CHECK(json_string("\xC0\x80") == "\"" + replacements(2) + "\"");
  CHECK(json_string("\xC1\xBF") == "\"" + replacements(2) + "\"");
  CHECK(json_string("\xE0\x80\xAF") == "\"" + replacements(3) + "\"");
  CHECK(json_string("\xF0\x80\x80\xAF") == "\"" + replacements(4) + "\"");
}

TEST_CASE("append_json_string replaces UTF-16 surrogates and code points past U+10FFFF") {
  CHECK(json_string("\xED\xA0\x80") == "\"" + replacements(3) + "\"");  // U+D800
  CHECK(json_string("\xED\xBF\xBF") == "\"" + replacements(3) + "\"");  // U+DFFF
  CHECK(json_string("\xF4\x90\x80\x80") == "\"" + replacements(4) + "\"");
  CHECK(json_string("\xF5\x80\x80\x80") == "\"" + replacements(4) + "\"");
  CHECK(json_string("\xFE\xFF") == "\"" + replacements(2) + "\"");
}

TEST_CASE("append_json_string replaces truncated sequences and keeps what follows") {
  for (std::string_view bad : {std::string_view("\xE2\x82"), std::string_view("\xF0\x9F\x98"),
                               std::string_view("\xC3"), std::string_view("\x80")}) {
    std::string in = "a";
    in.append(bad);
    const std::string at_end = json_string(in);
    CAPTURE(at_end);
    CHECK(is_valid_utf8(at_end));
    CHECK(at_end.starts_with("\"a\xEF\xBF\xBD"));
    in.append("z\xC3\xA9");
    const std::string in_middle = json_string(in);
    CHECK(is_valid_utf8(in_middle));
    CHECK(in_middle.ends_with("z\xC3\xA9\""));
  }
}

TEST_CASE("append_json_string escapes every control character") {
  CHECK(json_string("\b\f\x1f\x7f") == "\"\\u0008\\u000c\\u001f\\u007f\"");
  CHECK(json_string("\r\t") == "\"\\r\\t\"");
  CHECK(json_string(std::string_view("\0", 1)) == "\"\\u0000\"");
  CHECK(json_string("/") == "\"/\"");
  CHECK(json_string("") == "\"\"");
}

TEST_CASE("append_json_string output is valid UTF-8 for every byte pair") {
  for (int a = 0; a < 256; ++a) {
    for (int b = 0; b < 256; ++b) {
      const char in[3] = {static_cast<char>(a), static_cast<char>(b), '\xAF'};
      CHECK(is_valid_utf8(json_string(std::string_view(in, 3))));
    }
  }
}

TEST_CASE("append_json_string appends to what is already in the buffer") {
  std::string out = "{\"k\":";
  rl::core::append_json_string(out, "v");
  CHECK(out == "{\"k\":\"v\"");
}
