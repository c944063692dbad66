// Tests of policy/health.h: the wire names of the health states and their case-insensitive
// parsing.
#include "policy/health.h"

#include <doctest/doctest.h>

using rl::policy::HealthState;
using rl::policy::parse_health_state;

TEST_CASE("health states are spelled in upper case on the wire") {
  CHECK(rl::policy::to_string(HealthState::normal) == "NORMAL");
  CHECK(rl::policy::to_string(HealthState::degraded) == "DEGRADED");
}

TEST_CASE("parse_health_state accepts the two names in any letter case") {
  CHECK(parse_health_state("NORMAL") == HealthState::normal);
  CHECK(parse_health_state("normal") == HealthState::normal);
  CHECK(parse_health_state("Normal") == HealthState::normal);
  CHECK(parse_health_state("DEGRADED") == HealthState::degraded);
  CHECK(parse_health_state("degraded") == HealthState::degraded);
  CHECK(parse_health_state("dEgRaDeD") == HealthState::degraded);
}

TEST_CASE("parse_health_state refuses anything else") {
  CHECK_FALSE(parse_health_state(""));
  CHECK_FALSE(parse_health_state(" NORMAL"));
  CHECK_FALSE(parse_health_state("NORMAL "));
  CHECK_FALSE(parse_health_state("OK"));
  CHECK_FALSE(parse_health_state("DEGRADE"));
  CHECK_FALSE(parse_health_state("normalx"));
}
