// Tests of obs/logger.h: one valid JSON object per line with ts, level, event and the fields,
// string escaping, level filtering and changing the level at run time, and level names.
#include "obs/logger.h"

#include <limits>
#include <string>
#include <vector>

#include <doctest/doctest.h>
#include <nlohmann/json.hpp>

namespace {

using nlohmann::json;
using rl::obs::Logger;
using rl::obs::LogLevel;
using rl::obs::MemorySink;

std::vector<std::string> lines_of(const std::string& text) {
  std::vector<std::string> lines;
  std::size_t start = 0;
  while (start < text.size()) {
    const std::size_t end = text.find('\n', start);
    REQUIRE(end != std::string::npos);  // every line is newline-terminated
    lines.push_back(text.substr(start, end - start));
    start = end + 1;
  }
  return lines;
}

json only_line(const MemorySink& sink) {
  const auto lines = lines_of(sink.text());
  REQUIRE(lines.size() == 1);
  return json::parse(lines[0]);
}

}  // namespace

TEST_CASE("a log line is one JSON object with ts, level, event and the fields") {
  MemorySink sink;
  const rl::core::ManualClock clock(rl::core::from_unix_ms(1'700'000'000'123));
  Logger log(sink, clock);
  log.info("decision", {{"user", "alice"},
                        {"status", 200},
                        {"allowed", true},
                        {"ratio", 0.5},
                        {"remaining", std::int64_t{-3}}});
  const json line = only_line(sink);
  CHECK(line["ts"] == "2023-11-14T22:13:20.123Z");
  CHECK(line["level"] == "info");
  CHECK(line["event"] == "decision");
  CHECK(line["user"] == "alice");
  CHECK(line["status"] == 200);
  CHECK(line["allowed"] == true);
  CHECK(line["ratio"] == 0.5);
  CHECK(line["remaining"] == -3);
  CHECK(line.size() == 8);
}

TEST_CASE("log timestamps keep leading zeros in the milliseconds") {
  MemorySink sink;
  const rl::core::ManualClock clock(rl::core::from_unix_ms(1'700'000'000'005));
  Logger(sink, clock).warn("x");
  CHECK(only_line(sink)["ts"] == "2023-11-14T22:13:20.005Z");
}

TEST_CASE("every log call writes exactly one line") {
  MemorySink sink;
  const rl::core::ManualClock clock;
  Logger log(sink, clock);
  log.info("one");
  log.warn("two", {{"n", 2}});
  log.error("three");
  const auto lines = lines_of(sink.text());
  REQUIRE(lines.size() == 3);
  CHECK(json::parse(lines[0])["event"] == "one");
  CHECK(json::parse(lines[1])["level"] == "warn");
  CHECK(json::parse(lines[2])["level"] == "error");
}

TEST_CASE("log strings are escaped so the line stays valid JSON") {
  MemorySink sink;
  const rl::core::ManualClock clock;
  Logger log(sink, clock);
  const std::string nasty =
      "quote\" backslash\\ newline\n tab\t nul" + std::string(1, '\0') + " ctrl\x01 \xC3\xA9";
  log.info("ev\"ent\n", {{"k\"ey", nasty}, {"bad_utf8", "\xFF\xFE"}});
  const auto lines = lines_of(sink.text());
  REQUIRE(lines.size() == 1);
  const json line = json::parse(lines[0]);
  CHECK(line["event"] == "ev\"ent\n");
  CHECK(line["k\"ey"] == nasty);
  CHECK(line["bad_utf8"] == "\xEF\xBF\xBD\xEF\xBF\xBD");
}

TEST_CASE("a non-finite double is logged as null") {
  MemorySink sink;
  const rl::core::ManualClock clock;
  Logger(sink, clock)
      .info("x", {{"nan", std::numeric_limits<double>::quiet_NaN()},
                  {"inf", std::numeric_limits<double>::infinity()}});
  const json line = only_line(sink);
  CHECK(line["nan"].is_null());
  CHECK(line["inf"].is_null());
}

TEST_CASE("an unsigned 64-bit field is logged with its value") {
  MemorySink sink;
  const rl::core::ManualClock clock;
  Logger(sink, clock).info("x", {{"big", std::uint64_t{1} << 63}});
  const json line = only_line(sink);
  CHECK(line["big"].is_number_unsigned());
  CHECK(line["big"].get<std::uint64_t>() == (std::uint64_t{1} << 63));
}

TEST_CASE("the logger drops messages below its level") {
  MemorySink sink;
  const rl::core::ManualClock clock;
  Logger log(sink, clock);  // info by default
  CHECK(log.level() == LogLevel::info);
  CHECK_FALSE(log.enabled(LogLevel::debug));
  CHECK(log.enabled(LogLevel::info));
  log.debug("hidden");
  CHECK(sink.text().empty());
  log.info("shown");
  CHECK(only_line(sink)["event"] == "shown");
}

TEST_CASE("set_level changes what the logger writes from then on") {
  MemorySink sink;
  const rl::core::ManualClock clock;
  Logger log(sink, clock, LogLevel::error);
  log.warn("hidden");
  log.set_level(LogLevel::debug);
  CHECK(log.level() == LogLevel::debug);
  log.debug("shown");
  log.set_level(LogLevel::warn);
  log.info("hidden too");
  log.warn("shown too");
  const auto lines = lines_of(sink.text());
  REQUIRE(lines.size() == 2);
  CHECK(json::parse(lines[0])["event"] == "shown");
  CHECK(json::parse(lines[0])["level"] == "debug");
  CHECK(json::parse(lines[1])["event"] == "shown too");
}

TEST_CASE("parse_log_level accepts the level names in any case, plus warning and critical") {
  using rl::obs::parse_log_level;
  CHECK(parse_log_level("debug") == LogLevel::debug);
  CHECK(parse_log_level("INFO") == LogLevel::info);
  CHECK(parse_log_level("Warn") == LogLevel::warn);
  CHECK(parse_log_level("WARNING") == LogLevel::warn);
  CHECK(parse_log_level("error") == LogLevel::error);
  CHECK(parse_log_level("CRITICAL") == LogLevel::error);
  CHECK_FALSE(parse_log_level(""));
  CHECK_FALSE(parse_log_level("trace"));
  CHECK_FALSE(parse_log_level("info "));
}

TEST_CASE("log level names are lower case") {
  CHECK(rl::obs::to_string(LogLevel::debug) == "debug");
  CHECK(rl::obs::to_string(LogLevel::info) == "info");
  CHECK(rl::obs::to_string(LogLevel::warn) == "warn");
  CHECK(rl::obs::to_string(LogLevel::error) == "error");
}
