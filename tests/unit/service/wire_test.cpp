// Tests of service/wire.h: tier and health bodies of the admin API (fields, windows, every
// validation problem named by field), request body parsing, JSON shapes and RFC 3339 times.
#include "service/wire.h"

#include <doctest/doctest.h>

#include "support/common.h"

using rl::core::Seconds;
using rl::service::health_from_json;
using rl::service::json;
using rl::service::parse_body;
using rl::service::rfc3339;
using rl::service::tier_from_json;
using rl::service::to_json;

namespace {

const rl::core::WallTime kStampedNow = rl::core::from_unix_ms(1'700'000'000'123);

std::string tier_error(const json& body) {
  auto t = tier_from_json("gold", body);
  REQUIRE_FALSE(t.ok());
  CHECK(t.error().code == rl::core::Errc::invalid_argument);
  return t.error().message;
}

std::string health_error(const json& body) {
  auto h = health_from_json(body, kStampedNow);
  REQUIRE_FALSE(h.ok());
  CHECK(h.error().code == rl::core::Errc::invalid_argument);
  return h.error().message;
}

using rl::test::has;

}  // namespace

TEST_CASE("rfc3339 writes UTC seconds with a Z") {
  CHECK(rfc3339(kStampedNow) == "2023-11-14T22:13:20Z");
  CHECK(rfc3339(rl::core::from_unix_ms(0)) == "1970-01-01T00:00:00Z");
}

TEST_CASE("a tier body with window_seconds, algorithm and shadow becomes a tier") {
  auto t = tier_from_json("gold", json{{"base_limit", 10},
                                       {"burst_limit", 20},
                                       {"degraded_limit", 5},
                                       {"window_seconds", 30},
                                       {"algorithm", "token_bucket"},
                                       {"shadow", true}});
  REQUIRE_MESSAGE(t.ok(), (t.ok() ? "" : t.error().message));
  CHECK(t->name == "gold");
  CHECK(t->base_limit == 10);
  CHECK(t->burst_limit == 20);
  CHECK(t->degraded_limit == 5);
  CHECK(t->window == Seconds{30});
  CHECK(t->algorithm == rl::limiter::Algorithm::token_bucket);
  CHECK(t->shadow);
}

TEST_CASE("a tier body with window_minutes is converted to seconds") {
  auto t = tier_from_json(
      "gold",
      json{{"base_limit", 1}, {"burst_limit", 1}, {"degraded_limit", 1}, {"window_minutes", 2}});
  REQUIRE(t.ok());
  CHECK(t->window == Seconds{120});
  CHECK(t->algorithm == rl::limiter::Algorithm::sliding_window);
  CHECK_FALSE(t->shadow);
}

TEST_CASE("a tier body without a window gets 60 seconds") {
  auto t =
      tier_from_json("gold", json{{"base_limit", 1}, {"burst_limit", 1}, {"degraded_limit", 1}});
  REQUIRE(t.ok());
  CHECK(t->window == Seconds{60});
}

TEST_CASE("a tier body with both windows is refused") {
  const std::string e = tier_error(json{{"base_limit", 1},
                                        {"burst_limit", 1},
                                        {"degraded_limit", 1},
                                        {"window_seconds", 60},
                                        {"window_minutes", 1}});
  CHECK_MESSAGE(has(e, "window_seconds or window_minutes, not both"), e);
}

TEST_CASE("a tier body with an unknown field is refused naming the field") {
  const std::string e = tier_error(
      json{{"base_limit", 1}, {"burst_limit", 1}, {"degraded_limit", 1}, {"burstlimit", 1}});
  CHECK_MESSAGE(has(e, "burstlimit: unknown field"), e);
}

TEST_CASE("every problem of a tier body is named by its field") {
  const std::string e = tier_error(json{{"burst_limit", -1},
                                        {"degraded_limit", "x"},
                                        {"window_seconds", 0},
                                        {"algorithm", "leaky"},
                                        {"shadow", 1}});
  CHECK_MESSAGE(has(e, "base_limit: expected a non-negative integer (missing)"), e);
  CHECK_MESSAGE(has(e, "burst_limit: expected a non-negative integer"), e);
  CHECK_MESSAGE(has(e, "degraded_limit: expected a non-negative integer"), e);
  CHECK_MESSAGE(has(e, "window_seconds: expected a whole number from 1 to 31622400"), e);
  CHECK_MESSAGE(has(e, "algorithm: expected \"sliding_window\""), e);
  CHECK_MESSAGE(has(e, "shadow: expected true or false"), e);
}

TEST_CASE("a tier body that breaks the tier rules names the field") {
  CHECK(has(tier_error(json{{"base_limit", 10}, {"burst_limit", 5}, {"degraded_limit", 1}}),
            "burst_limit: must be at least base_limit (10), got 5"));
  CHECK(has(tier_error(json{{"base_limit", 1}, {"burst_limit", 5}, {"degraded_limit", 6}}),
            "degraded_limit: must not exceed burst_limit (5), got 6"));
  auto bad_name = tier_from_json(
      "Bad Name", json{{"base_limit", 1}, {"burst_limit", 1}, {"degraded_limit", 1}});
  REQUIRE_FALSE(bad_name.ok());
  CHECK(has(bad_name.error().message, "name: expected 1-64 characters"));
}

TEST_CASE("a health body sets status, who and why, with updated_at now") {
  auto h = health_from_json(
      json{{"status", "degraded"}, {"updated_by", "ops"}, {"reason", "db failover"}}, kStampedNow);
  REQUIRE(h.ok());
  CHECK(h->state == rl::policy::HealthState::degraded);
  CHECK(h->updated_by == "ops");
  CHECK(h->reason == "db failover");
  CHECK(h->updated_at == kStampedNow);
  CHECK_FALSE(h->expires_at.has_value());
}

TEST_CASE("a health body's status is read in any letter case") {
  CHECK(health_from_json(json{{"status", "NORMAL"}}, kStampedNow)->state ==
        rl::policy::HealthState::normal);
  CHECK(health_from_json(json{{"status", "Degraded"}}, kStampedNow)->state ==
        rl::policy::HealthState::degraded);
}

TEST_CASE("a health body without updated_by is attributed to the admin API") {
  auto h = health_from_json(json{{"status", "NORMAL"}}, kStampedNow);
  REQUIRE(h.ok());
  CHECK(h->updated_by == "admin_api");
}

TEST_CASE("ttl_seconds becomes expires_at, and 0 or null means no expiry") {
  auto h = health_from_json(json{{"status", "DEGRADED"}, {"ttl_seconds", 300}}, kStampedNow);
  REQUIRE(h.ok());
  REQUIRE(h->expires_at.has_value());
  CHECK(*h->expires_at == kStampedNow + Seconds{300});
  CHECK_FALSE(
      health_from_json(json{{"status", "DEGRADED"}, {"ttl_seconds", 0}}, kStampedNow)->expires_at);
  CHECK_FALSE(health_from_json(json{{"status", "DEGRADED"}, {"ttl_seconds", nullptr}}, kStampedNow)
                  ->expires_at);
}

TEST_CASE("a health body with bad types is refused naming the field") {
  CHECK(has(health_error(json::object()), "status: expected \"NORMAL\" or \"DEGRADED\""));
  CHECK(has(health_error(json{{"status", 1}}), "status:"));
  CHECK(has(health_error(json{{"status", "BROKEN"}}), "status:"));
  CHECK(has(health_error(json{{"status", "NORMAL"}, {"ttl_seconds", "60"}}), "ttl_seconds:"));
  CHECK(has(health_error(json{{"status", "NORMAL"}, {"ttl_seconds", -1}}), "ttl_seconds:"));
  CHECK(has(health_error(json{{"status", "NORMAL"}, {"ttl_seconds", 1.5}}), "ttl_seconds:"));
  CHECK(has(health_error(json{{"status", "NORMAL"}, {"reason", 5}}), "reason:"));
  CHECK(has(health_error(json{{"status", "NORMAL"}, {"updated_by", std::string(257, 'x')}}),
            "updated_by:"));
}

TEST_CASE("parse_body accepts an empty body only when told to") {
  auto empty = parse_body("", true);
  REQUIRE(empty.ok());
  CHECK(empty->is_object());
  CHECK(empty->empty());
  CHECK_FALSE(parse_body("", false).ok());
}

TEST_CASE("parse_body refuses invalid JSON and non-objects") {
  auto bad = parse_body("{\"a\":", false);
  REQUIRE_FALSE(bad.ok());
  CHECK(has(bad.error().message, "not valid JSON"));
  auto array = parse_body("[1,2]", false);
  REQUIRE_FALSE(array.ok());
  CHECK(has(array.error().message, "must be a JSON object"));
  CHECK(parse_body("{\"a\": 1}", false)->at("a") == 1);
}

// Found while fuzzing admin bodies: PUT /admin/tiers/{name} converted the whole body to
// another JSON type, one stack frame per level, and 45,000 levels overflowed an 8 MiB stack.
TEST_CASE("parse_body refuses a body nested deeper than the limit, however long") {
  const auto nested = [](int depth) {
    return "{\"base_limit\":" + std::string(depth, '[') + std::string(depth, ']') + "}";
  };
  CHECK(parse_body(nested(rl::service::kMaxBodyDepth - 1), false).ok());
  auto deep = parse_body(nested(rl::service::kMaxBodyDepth), false);
  REQUIRE_FALSE(deep.ok());
  CHECK(has(deep.error().message, "nested deeper than 32 levels"));
  CHECK_FALSE(parse_body(nested(1'000'000), false).ok());  // 2 MB, kept to 32 levels
}

TEST_CASE("a tier is written with its window in seconds and its algorithm by name") {
  rl::policy::Tier t{
      "pro", 100, 150, 100, Seconds{60}, rl::limiter::Algorithm::fixed_window, false, std::nullopt};
  CHECK(to_json(t) == json{{"name", "pro"},
                           {"base_limit", 100},
                           {"burst_limit", 150},
                           {"degraded_limit", 100},
                           {"window_seconds", 60},
                           {"algorithm", "fixed_window"},
                           {"on_failure", nullptr},
                           {"shadow", false}});
}

TEST_CASE("users, keys and blocks are written with RFC 3339 times") {
  CHECK(to_json(rl::store::UserRecord{"alice", "free", kStampedNow, true}) ==
        json{{"user_id", "alice"},
             {"tier", "free"},
             {"created_at", "2023-11-14T22:13:20Z"},
             {"disabled", true}});
  CHECK(to_json(rl::store::KeyRecord{std::string(64, 'a'), "aaaaaaaaaaaaaaaa", "alice", "ci",
                                     kStampedNow}) == json{{"key_id", "aaaaaaaaaaaaaaaa"},
                                                           {"user_id", "alice"},
                                                           {"label", "ci"},
                                                           {"created_at", "2023-11-14T22:13:20Z"}});
  CHECK(to_json(rl::store::Block{"192.0.2.1", "too many", kStampedNow}) ==
        json{{"client", "192.0.2.1"},
             {"reason", "too many"},
             {"expires_at", "2023-11-14T22:13:20Z"}});
}

TEST_CASE("a key's JSON never carries its digest") {
  const json j =
      to_json(rl::store::KeyRecord{std::string(64, 'a'), "aaaaaaaaaaaaaaaa", "u", "", kStampedNow});
  CHECK_FALSE(j.contains("digest"));
  CHECK(j.dump().find(std::string(64, 'a')) == std::string::npos);
}

TEST_CASE("a health record never set is NORMAL with null details") {
  CHECK(to_json(rl::store::HealthRecord{}) == json{{"status", "NORMAL"},
                                                   {"updated_by", nullptr},
                                                   {"reason", nullptr},
                                                   {"updated_at", nullptr},
                                                   {"expires_at", nullptr}});
}

TEST_CASE("a health record that was set shows who, why, when and until when") {
  rl::store::HealthRecord h;
  h.state = rl::policy::HealthState::degraded;
  h.updated_by = "ops";
  h.reason = "failover";
  h.updated_at = kStampedNow;
  h.expires_at = kStampedNow + Seconds{60};
  CHECK(to_json(h) == json{{"status", "DEGRADED"},
                           {"updated_by", "ops"},
                           {"reason", "failover"},
                           {"updated_at", "2023-11-14T22:13:20Z"},
                           {"expires_at", "2023-11-14T22:14:20Z"}});
}

TEST_CASE("a tier body of more fields than a tier has is refused before they are read") {
  json body = json{{"base_limit", 1}, {"burst_limit", 1}, {"degraded_limit", 1}};
  for (int i = 0; i < 40; ++i)
    body["extra_" + std::to_string(i)] = i;
  CHECK(tier_error(body) == "the body has 43 fields; a tier has at most 32");
}
