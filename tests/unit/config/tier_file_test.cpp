// Tests of config/tier_file.h: the reference JSON schema and rl's additions, one fixture per
// error, and that a clear-text API key never appears in an error message.
#include "config/tier_file.h"

#include <algorithm>
#include <string>

#include <doctest/doctest.h>

#include "support/common.h"
#include "unit/config/fixtures.h"

using rl::config::load_tier_file;
using rl::config::parse_tier_file;
using rl::config::TierFile;
using rl::limiter::Algorithm;

namespace {

using rl::test::kConfigFixtures;
const std::string kReference = RL_TEST_DATA_DIR "/../config/rate_limits.json";

const rl::policy::Tier* tier(const TierFile& f, std::string_view name) {
  auto it = std::find_if(f.tiers.begin(), f.tiers.end(), [&](auto& t) { return t.name == name; });
  return it == f.tiers.end() ? nullptr : &*it;
}

const rl::config::TierFileUser* user(const TierFile& f, std::string_view id) {
  auto it = std::find_if(f.users.begin(), f.users.end(), [&](auto& u) { return u.id == id; });
  return it == f.users.end() ? nullptr : &*it;
}

const rl::config::TierFileKey* key(const TierFile& f, std::string_view digest) {
  auto it = std::find_if(f.keys.begin(), f.keys.end(), [&](auto& k) { return k.digest == digest; });
  return it == f.keys.end() ? nullptr : &*it;
}

std::string tier_file_error(const std::string& fixture) {
  auto result = load_tier_file(kConfigFixtures + fixture);
  REQUIRE_FALSE(result.ok());
  CHECK(result.error().code == rl::core::Errc::invalid_argument);
  return result.error().message;
}

std::string parse_error(std::string_view json) {
  auto result = parse_tier_file(json, "inline.json");
  REQUIRE_FALSE(result.ok());
  return result.error().message;
}

using rl::test::has;

constexpr const char* kFreeDigest =
    "fe279956530efc4009f3deaef3a35b040f26c4a56ee7a65285c99463c182afa3";
constexpr const char* kProDigest =
    "c5bef365afa2caa9022a79b21c316be315cea6bd0aedb4ea5b12bb8f40f5dc0d";
constexpr const char* kEnterpriseDigest =
    "4c8c3bbff65dc81f24c97ef874ac05f8e6be47b5eb056b70d28b2cca7c0bba86";

}  // namespace

TEST_CASE("the reference tier file loads its 3 tiers, 3 users and 3 hashed keys") {
  auto f = load_tier_file(kReference);
  REQUIRE_MESSAGE(f.ok(), (f.ok() ? "" : f.error().message));
  CHECK(f->source == kReference);
  REQUIRE(f->tiers.size() == 3);
  REQUIRE(f->users.size() == 3);
  REQUIRE(f->keys.size() == 3);
  const auto* free = tier(*f, "free");
  REQUIRE(free != nullptr);
  CHECK(free->base_limit == 10);
  CHECK(free->burst_limit == 20);
  CHECK(free->degraded_limit == 2);
  CHECK(free->window == rl::core::Seconds{60});
  CHECK(free->algorithm == Algorithm::sliding_window);
  CHECK_FALSE(free->shadow);
  REQUIRE(tier(*f, "pro") != nullptr);
  CHECK(tier(*f, "pro")->burst_limit == 150);
  CHECK(tier(*f, "pro")->degraded_limit == 100);
  REQUIRE(tier(*f, "enterprise") != nullptr);
  CHECK(tier(*f, "enterprise")->degraded_limit == 1000);
  REQUIRE(user(*f, "demo_pro_user") != nullptr);
  CHECK(user(*f, "demo_pro_user")->tier == "pro");
  CHECK_FALSE(user(*f, "demo_pro_user")->disabled);
}

TEST_CASE("clear-text keys of the reference file are kept only as their SHA-256") {
  auto f = load_tier_file(kReference);
  REQUIRE(f.ok());
  REQUIRE(key(*f, kFreeDigest) != nullptr);
  CHECK(key(*f, kFreeDigest)->user == "demo_free_user");
  REQUIRE(key(*f, kProDigest) != nullptr);
  CHECK(key(*f, kProDigest)->user == "demo_pro_user");
  REQUIRE(key(*f, kEnterpriseDigest) != nullptr);
  CHECK(key(*f, kEnterpriseDigest)->user == "demo_enterprise_user");
}

TEST_CASE("window_seconds, algorithm, shadow, user objects, sha256 keys and comments are read") {
  auto f = load_tier_file(kConfigFixtures + "tiers_rl_extensions.json");
  REQUIRE_MESSAGE(f.ok(), (f.ok() ? "" : f.error().message));
  REQUIRE(tier(*f, "free") != nullptr);
  CHECK(tier(*f, "free")->window == rl::core::Seconds{30});
  CHECK(tier(*f, "free")->algorithm == Algorithm::token_bucket);
  CHECK_FALSE(tier(*f, "free")->shadow);
  REQUIRE(tier(*f, "trial") != nullptr);
  CHECK(tier(*f, "trial")->window == rl::core::Seconds{120});
  CHECK(tier(*f, "trial")->algorithm == Algorithm::fixed_window);
  CHECK(tier(*f, "trial")->shadow);
  REQUIRE(user(*f, "alice") != nullptr);
  CHECK(user(*f, "alice")->tier == "free");
  REQUIRE(user(*f, "bob") != nullptr);
  CHECK(user(*f, "bob")->tier == "trial");
  CHECK(user(*f, "bob")->disabled);
  REQUIRE(user(*f, "carol") != nullptr);
  CHECK_FALSE(user(*f, "carol")->disabled);
  REQUIRE(key(*f, kFreeDigest) != nullptr);
  CHECK(key(*f, kFreeDigest)->user == "alice");
  CHECK(f->keys.size() == 2);
  for (const auto& k : f->keys)
    CHECK(k.digest.size() == 64);
}

TEST_CASE("the reference's redis section is accepted and ignored") {
  auto f = parse_tier_file(R"({"redis": {"host": "x", "port": 1, "anything": [1]}})", "-");
  REQUIRE(f.ok());
  CHECK(f->tiers.empty());
}

TEST_CASE("an empty object is a valid tier file with nothing in it") {
  auto f = parse_tier_file("{}", "-");
  REQUIRE(f.ok());
  CHECK(f->source == "-");
  CHECK(f->tiers.empty());
  CHECK(f->users.empty());
  CHECK(f->keys.empty());
}

TEST_CASE("window_seconds and window_minutes together are refused") {
  const std::string e = tier_file_error("tiers_both_windows.json");
  CHECK_MESSAGE(has(e, kConfigFixtures + "tiers_both_windows.json: tiers.free.window_seconds: give "
                                         "window_seconds or window_minutes, not both"),
                e);
}

TEST_CASE("unknown keys at the top level and in a tier are refused") {
  const std::string e = tier_file_error("tiers_unknown_key.json");
  CHECK_MESSAGE(has(e, "tiers_unknown_key.json: tiers.free.windw_seconds: unknown field"), e);
  CHECK_MESSAGE(has(e, "tiers_unknown_key.json: userz: expected one of"), e);
}

TEST_CASE("a user whose tier is not defined is refused") {
  const std::string e = tier_file_error("tiers_user_unknown_tier.json");
  CHECK_MESSAGE(has(e,
                    "tiers_user_unknown_tier.json: users.alice: expected the name of a tier "
                    "defined under \"tiers\", got \"gold\""),
                e);
}

TEST_CASE("a key for a user that is not defined is refused without showing the key") {
  const std::string e = tier_file_error("tiers_key_unknown_user.json");
  CHECK_MESSAGE(has(e,
                    "tiers_key_unknown_user.json: api_keys (entry 1): expected the id of a "
                    "user defined under \"users\", got \"bob\""),
                e);
  CHECK_FALSE(has(e, "orphan_secret_key_42"));
}

TEST_CASE("a negative limit is refused") {
  const std::string e = tier_file_error("tiers_negative_limit.json");
  CHECK_MESSAGE(has(e,
                    "tiers_negative_limit.json: tiers.free.base_limit: expected a "
                    "non-negative integer, got -1"),
                e);
}

TEST_CASE("a degraded limit above the burst limit is refused") {
  const std::string e = tier_file_error("tiers_degraded_over_burst.json");
  CHECK_MESSAGE(has(e,
                    "tiers_degraded_over_burst.json: tiers.free.degraded_limit: must not "
                    "exceed burst_limit (20), got 25"),
                e);
}

TEST_CASE("a malformed key is refused by position and user, never by its text") {
  const std::string e = tier_file_error("tiers_malformed_key.json");
  CHECK_MESSAGE(has(e,
                    "tiers_malformed_key.json: api_keys (entry 1) for user alice: expected a "
                    "key of 8-256 characters"),
                e);
  CHECK_FALSE(has(e, "bad key with spaces!"));
}

TEST_CASE("a bad sha256 digest is refused") {
  const std::string e = parse_error(
      R"({"tiers": {"t": {"base_limit": 1, "burst_limit": 1, "degraded_limit": 1}},
          "users": {"u": "t"}, "api_keys": {"sha256:ABCDEF": "u"}})");
  CHECK_MESSAGE(has(e,
                    "api_keys (entry 1) for user u: expected \"sha256:\" followed by 64 "
                    "lower-case hex digits"),
                e);
}

TEST_CASE("the same key twice, clear and hashed, is refused") {
  const std::string e = parse_error(std::string(R"({"tiers": {"t": {"base_limit": 1,
          "burst_limit": 1, "degraded_limit": 1}}, "users": {"u": "t"},
          "api_keys": {"demo_free_key_123": "u", "sha256:)") +
                                    kFreeDigest + R"(": "u"}})");
  CHECK_MESSAGE(has(e, "api_keys (entry 2): expected each key only once"), e);
  CHECK_FALSE(has(e, "demo_free_key_123"));
}

TEST_CASE("a key whose value is not a user id is refused without showing the key") {
  const std::string e = parse_error(R"({"api_keys": {"hidden_secret_key_1": 42}})");
  CHECK_MESSAGE(has(e, "api_keys (entry 1): expected a user id as the value, got 42"), e);
  CHECK_FALSE(has(e, "hidden_secret_key_1"));
}

TEST_CASE("a bad algorithm, shadow or user value names the field") {
  const std::string e = parse_error(R"({
    "tiers": {"t": {"base_limit": 1, "burst_limit": 1, "degraded_limit": 1,
                    "algorithm": "leaky_bucket", "shadow": "yes"}},
    "users": {"u": 7, "v": {"tier": "t", "disabled": "no"}, "bad id!": "t"}})");
  CHECK_MESSAGE(has(e,
                    "tiers.t.algorithm: expected \"sliding_window\", \"fixed_window\" or "
                    "\"token_bucket\", got \"leaky_bucket\""),
                e);
  CHECK_MESSAGE(has(e, "tiers.t.shadow: expected true or false, got \"yes\""), e);
  CHECK_MESSAGE(has(e, "users.u: expected a tier name, or an object"), e);
  CHECK_MESSAGE(has(e, "users.v.disabled: expected true or false, got \"no\""), e);
  CHECK_MESSAGE(has(e, "users.bad id!: expected a user id of 1-128 characters"), e);
}

TEST_CASE("a missing limit and a zero window are refused") {
  const std::string e = parse_error(
      R"({"tiers": {"t": {"base_limit": 1, "degraded_limit": 1, "window_seconds": 0}}})");
  CHECK_MESSAGE(has(e,
                    "inline.json: tiers.t.burst_limit: expected a non-negative integer "
                    "(missing)"),
                e);
  CHECK_MESSAGE(
      has(e,
          "inline.json: tiers.t.window_seconds: expected a whole number from 1 to 31622400, got 0"),
      e);
}

TEST_CASE("a file that is not a JSON object is refused") {
  CHECK(has(parse_error("[1, 2]"), "inline.json: expected a JSON object at the top level"));
  CHECK(has(parse_error("{\"tiers\": "), "inline.json: invalid JSON"));
}

TEST_CASE("a missing tier file is not_found and names the path") {
  auto result = load_tier_file(kConfigFixtures + "no_such_tiers.json");
  REQUIRE_FALSE(result.ok());
  CHECK(result.error().code == rl::core::Errc::not_found);
  CHECK(has(result.error().message, kConfigFixtures + "no_such_tiers.json"));
}

TEST_CASE("several problems in the tier file are all reported, one per line") {
  const std::string e = parse_error(R"({
    "tiers": {"a": {"base_limit": -1, "burst_limit": 1, "degraded_limit": 1},
              "b": {"base_limit": 1, "burst_limit": 1, "degraded_limit": 1, "extra": 1}},
    "users": {"u": "nope"}})");
  CHECK_MESSAGE(std::count(e.begin(), e.end(), '\n') == 2, e);
}

TEST_CASE("a JSON syntax error inside an API key does not show the key") {
  const std::string e = tier_file_error("tiers_syntax_error_in_key.json");
  CHECK_MESSAGE(has(e, "invalid JSON"), e);
  CHECK_FALSE_MESSAGE(has(e, "leaky_secret_key_77"), e);
}

TEST_CASE("api_keys given as an array is refused without showing the keys") {
  const std::string e = tier_file_error("tiers_keys_as_array.json");
  CHECK_MESSAGE(has(e, "api_keys: expected an object of API key"), e);
  CHECK_FALSE_MESSAGE(has(e, "listed_secret_key_88"), e);
}
