// Replays the shared, implementation-neutral table tests/cases/limiter_cases.json through
// limiter::apply and checks every field of every step. The Redis Lua twins replay the same table.
#include <fstream>
#include <set>
#include <string>

#include <doctest/doctest.h>
#include <nlohmann/json.hpp>

#include "limiter/limiter.h"

namespace {

using nlohmann::json;
using rl::limiter::Algorithm;

json load_cases() {
  std::ifstream in(std::string(RL_TEST_DATA_DIR) + "/cases/limiter_cases.json");
  REQUIRE(in.good());
  return json::parse(in);
}

// Runs every scenario of `algorithm`; returns how many steps were checked.
int replay(std::string_view algorithm) {
  const auto parsed = rl::limiter::parse_algorithm(algorithm);
  REQUIRE(parsed.has_value());
  int steps = 0;
  for (const json& scenario : load_cases()) {
    if (scenario.at("algorithm").get<std::string>() != algorithm) continue;
    const std::string name = scenario.at("name").get<std::string>();
    const rl::limiter::Quota quota{scenario.at("limit").get<std::int64_t>(),
                                   rl::core::Seconds{scenario.at("window_seconds").get<int>()}};
    rl::limiter::CounterState state;
    int index = 0;
    for (const json& step : scenario.at("steps")) {
      const std::int64_t at = step.at("at_ms").get<std::int64_t>();
      const std::int64_t cost = step.at("cost").get<std::int64_t>();
      const auto d = rl::limiter::apply(state, *parsed, quota, rl::core::from_unix_ms(at), cost);
      CAPTURE(name);
      CAPTURE(index);
      CAPTURE(at);
      CAPTURE(cost);
      CHECK(d.allowed == step.at("allowed").get<bool>());
      CHECK(d.limit == quota.limit);
      CHECK(d.remaining == step.at("remaining").get<std::int64_t>());
      CHECK(d.used == step.at("used").get<std::int64_t>());
      CHECK(rl::core::to_unix_ms(d.reset) == step.at("reset_ms").get<std::int64_t>());
      CHECK(d.retry_after.count() == step.at("retry_after_ms").get<std::int64_t>());
      ++index;
      ++steps;
    }
  }
  return steps;
}

}  // namespace

TEST_CASE("the shared limiter table is well formed and covers every algorithm") {
  const json cases = load_cases();
  REQUIRE(cases.is_array());
  std::set<std::string> names, algorithms;
  for (const json& scenario : cases) {
    const std::string name = scenario.at("name").get<std::string>();
    CAPTURE(name);
    CHECK(names.insert(name).second);
    const std::string algorithm = scenario.at("algorithm").get<std::string>();
    CHECK(rl::limiter::parse_algorithm(algorithm).has_value());
    algorithms.insert(algorithm);
    CHECK(scenario.at("limit").get<std::int64_t>() >= 0);
    CHECK(scenario.at("window_seconds").get<std::int64_t>() >= 1);
    CHECK_FALSE(scenario.at("steps").empty());
    for (const json& step : scenario.at("steps")) {
      CHECK(step.size() == 7);
      CHECK(step.at("cost").get<std::int64_t>() >= 0);
      CHECK(step.at("retry_after_ms").get<std::int64_t>() >= 0);
      // An admitted request never carries a retry-after; a denied one always does.
      CHECK((step.at("retry_after_ms").get<std::int64_t>() == 0) == step.at("allowed").get<bool>());
    }
  }
  CHECK(algorithms == std::set<std::string>{"sliding_window", "fixed_window", "token_bucket"});
}

TEST_CASE("fixed window gives every answer of the shared table") {
  CHECK(replay("fixed_window") > 0);
}

TEST_CASE("sliding window gives every answer of the shared table") {
  CHECK(replay("sliding_window") > 0);
}

TEST_CASE("token bucket gives every answer of the shared table") {
  CHECK(replay("token_bucket") > 0);
}
