// Tests of policy/tier.h: the effective quota per health state for the reference tiers,
// validate() naming every problem's field, and the tier-name and user-id rules.
#include "policy/tier.h"

#include <algorithm>
#include <string>

#include <doctest/doctest.h>

namespace {

using rl::policy::FieldProblem;
using rl::policy::HealthState;
using rl::policy::Tier;

Tier tier(std::string name, std::int64_t base, std::int64_t burst, std::int64_t degraded,
          std::int64_t window_seconds = 60) {
  Tier t;
  t.name = std::move(name);
  t.base_limit = base;
  t.burst_limit = burst;
  t.degraded_limit = degraded;
  t.window = rl::core::Seconds{window_seconds};
  return t;
}

const Tier kFree = tier("free", 10, 20, 2);
const Tier kPro = tier("pro", 100, 150, 100);
const Tier kEnterprise = tier("enterprise", 1000, 1000, 1000);

bool has_problem(const std::vector<FieldProblem>& problems, std::string_view field) {
  return std::any_of(problems.begin(), problems.end(),
                     [&](const FieldProblem& p) { return p.field == field; });
}

std::int64_t opaque(std::int64_t v) {
  volatile std::int64_t copy = v;
  return copy;
}

}  // namespace

TEST_CASE("quota_for gives the burst limit in NORMAL for the reference tiers") {
  CHECK(rl::policy::quota_for(kFree, HealthState::normal).limit == 20);
  CHECK(rl::policy::quota_for(kPro, HealthState::normal).limit == 150);
  CHECK(rl::policy::quota_for(kEnterprise, HealthState::normal).limit == 1000);
}

TEST_CASE("quota_for gives the degraded limit in DEGRADED for the reference tiers") {
  CHECK(rl::policy::quota_for(kFree, HealthState::degraded).limit == 2);
  CHECK(rl::policy::quota_for(kPro, HealthState::degraded).limit == 100);
  CHECK(rl::policy::quota_for(kEnterprise, HealthState::degraded).limit == 1000);
}

TEST_CASE("quota_for keeps the tier's one window in both health states") {
  const Tier t = tier("hourly", 5, 10, 1, 3600);
  CHECK(rl::policy::quota_for(t, HealthState::normal).window.count() == 3600);
  CHECK(rl::policy::quota_for(t, HealthState::degraded).window.count() == 3600);
}

TEST_CASE("validate accepts the reference tiers") {
  CHECK(rl::policy::validate(kFree).empty());
  CHECK(rl::policy::validate(kPro).empty());
  CHECK(rl::policy::validate(kEnterprise).empty());
  CHECK(rl::policy::validate(tier("closed", 0, 0, 0)).empty());
}

TEST_CASE("validate names each negative limit by its field") {
  CHECK(has_problem(rl::policy::validate(tier("t", -1, 20, 2)), "base_limit"));
  CHECK(has_problem(rl::policy::validate(tier("t", 0, -1, -2)), "burst_limit"));
  CHECK(has_problem(rl::policy::validate(tier("t", 0, 5, -1)), "degraded_limit"));
  const auto problems = rl::policy::validate(tier("t", 0, 5, -1));
  REQUIRE(problems.size() == 1);
  CHECK(problems[0].message.find("-1") != std::string::npos);
}

TEST_CASE("validate refuses a window under one second as window_seconds") {
  const auto problems = rl::policy::validate(tier("t", 1, 2, 1, 0));
  REQUIRE(problems.size() == 1);
  CHECK(problems[0].field == "window_seconds");
  CHECK(has_problem(rl::policy::validate(tier("t", 1, 2, 1, -60)), "window_seconds"));
}

TEST_CASE("validate refuses a burst limit below the base limit") {
  const auto problems = rl::policy::validate(tier("t", 10, 5, 1));
  REQUIRE(problems.size() == 1);
  CHECK(problems[0].field == "burst_limit");
  CHECK(problems[0].message.find("10") != std::string::npos);
  CHECK(problems[0].message.find("5") != std::string::npos);
}

TEST_CASE("validate refuses a degraded limit above the burst limit") {
  const auto problems = rl::policy::validate(tier("t", 10, 20, 21));
  REQUIRE(problems.size() == 1);
  CHECK(problems[0].field == "degraded_limit");
  CHECK(problems[0].message.find("20") != std::string::npos);
}

TEST_CASE("validate refuses limit x window beyond 2^50 ms") {
  const std::int64_t max_burst = rl::limiter::kMaxLimitTimesWindowMs / 60'000;
  CHECK(rl::policy::validate(tier("t", 1, max_burst, 1)).empty());
  const auto problems = rl::policy::validate(tier("t", 1, max_burst + 1, 1));
  REQUIRE(problems.size() == 1);
  CHECK(problems[0].field == "burst_limit");
}

TEST_CASE("validate refuses a window whose length in ms overflows 64 bits") {
  // 18446744073709552 s is 2^64 + 384 ms: must not wrap into a 384 ms window.
  CHECK_FALSE(rl::policy::validate(tier("t", 1, 10, 1, opaque(18'446'744'073'709'552))).empty());
}

TEST_CASE("validate refuses a bad tier name as name") {
  const auto problems = rl::policy::validate(tier("Free Tier", 10, 20, 2));
  REQUIRE(problems.size() == 1);
  CHECK(problems[0].field == "name");
  CHECK(problems[0].message.find("Free Tier") != std::string::npos);
}

TEST_CASE("validate reports every problem at once") {
  const auto problems = rl::policy::validate(tier("", -1, -2, 5, 0));
  CHECK(has_problem(problems, "name"));
  CHECK(has_problem(problems, "base_limit"));
  CHECK(has_problem(problems, "burst_limit"));
  CHECK(has_problem(problems, "window_seconds"));
  CHECK(has_problem(problems, "degraded_limit"));
  CHECK(problems.size() >= 5);
}

TEST_CASE("tier names are 1 to 64 of lower-case letters, digits, '_' and '-'") {
  using rl::policy::is_valid_tier_name;
  CHECK(is_valid_tier_name("free"));
  CHECK(is_valid_tier_name("pro-2024_eu"));
  CHECK(is_valid_tier_name("0"));
  CHECK(is_valid_tier_name(std::string(64, 'a')));
  CHECK_FALSE(is_valid_tier_name(std::string(65, 'a')));
  CHECK_FALSE(is_valid_tier_name(""));
  CHECK_FALSE(is_valid_tier_name("Free"));
  CHECK_FALSE(is_valid_tier_name("free tier"));
  CHECK_FALSE(is_valid_tier_name("free:eu"));
  CHECK_FALSE(is_valid_tier_name("{free}"));
  CHECK_FALSE(is_valid_tier_name("free.eu"));
}

TEST_CASE("user ids are 1 to 128 of letters, digits, '_', '.', '@' and '-'") {
  using rl::policy::is_valid_user_id;
  CHECK(is_valid_user_id("demo_free_user"));
  CHECK(is_valid_user_id("Alice.Smith-2@example.com"));
  CHECK(is_valid_user_id(std::string(128, 'U')));
  CHECK_FALSE(is_valid_user_id(std::string(129, 'U')));
  CHECK_FALSE(is_valid_user_id(""));
  CHECK_FALSE(is_valid_user_id("alice smith"));
  CHECK_FALSE(is_valid_user_id("alice:1"));
  CHECK_FALSE(is_valid_user_id("{alice}"));
  CHECK_FALSE(is_valid_user_id("al/ice"));
  CHECK_FALSE(is_valid_user_id("\xC3\xA9"));
  CHECK_FALSE(is_valid_user_id(std::string_view("a\0b", 3)));
}
