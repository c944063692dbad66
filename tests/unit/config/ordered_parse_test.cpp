#include "config/ordered_parse.h"

#include <string>

#include <doctest/doctest.h>

using rl::config::parse_ordered;
using json = nlohmann::ordered_json;

namespace {

// What ordered_json::parse (comments allowed) makes of `text`, for comparison.
json reference(const std::string& text) {
  return json::parse(text, nullptr, true, /*ignore_comments=*/true);
}

}  // namespace

TEST_CASE("parse_ordered builds what ordered_json::parse builds, in file order") {
  const std::string text = R"({
    // a comment, as tier files may have
    "z": {"b": 1, "a": [true, null, -3, 18446744073709551615, 2.5, "s", {"y": {}, "x": []}]},
    "a": "last", /* another */ "m": -0.0
  })";
  const json parsed = parse_ordered(text);
  CHECK(parsed.dump() == reference(text).dump());
  CHECK(parsed.dump() ==
        R"({"z":{"b":1,"a":[true,null,-3,18446744073709551615,2.5,"s",{"y":{},"x":[]}]},)"
        R"("a":"last","m":-0.0})");
}

TEST_CASE("a key given twice keeps its first place and its last value, as ordered_json::parse") {
  const std::string text = R"({"a": 1, "b": {"k": 1, "k": [2]}, "a": {"n": 3}})";
  CHECK(parse_ordered(text).dump() == reference(text).dump());
  CHECK(parse_ordered(text).dump() == R"({"a":{"n":3},"b":{"k":[2]}})");
}

TEST_CASE("scalars at the top level and empty containers") {
  for (const std::string text : {"7", "\"x\"", "null", "[]", "{}", "[[],{}]"}) {
    CHECK(parse_ordered(text).dump() == reference(text).dump());
  }
}

TEST_CASE("bad JSON throws what ordered_json::parse throws, with the same message") {
  for (const std::string text : {"", "{", R"({"a" 1})", R"({"a": 1,})", "[1 2]", "{} x", "nul"}) {
    CAPTURE(text);
    std::string expected;
    try {
      reference(text);
    } catch (const json::parse_error& e) {
      expected = e.what();
    }
    REQUIRE_FALSE(expected.empty());
    CHECK_THROWS_WITH_AS(parse_ordered(text), expected.c_str(), json::parse_error);
  }
  CHECK_THROWS_AS(parse_ordered("[1e400]"), json::out_of_range);
}

TEST_CASE("an object of 200,000 keys is read whole and in order") {
  std::string text = "{";
  for (int i = 0; i < 200'000; ++i) {
    text += (i == 0 ? "\"k" : ",\"k") + std::to_string(i) + "\":" + std::to_string(i);
  }
  text += "}";
  const json parsed = parse_ordered(text);
  REQUIRE(parsed.size() == 200'000);
  int i = 0;
  for (const auto& [key, value] : parsed.items()) {
    if (key != "k" + std::to_string(i) || value != i) FAIL("entry " << i << " out of place");
    ++i;
  }
}
