// Tests of store/redis_codec.h and store/key_space.h on replies parsed by hiredis from RESP
// text (no server): records round-trip through hash fields; malformed hashes are errors.
#include <cstdint>
#include <string>
#include <vector>

#include <doctest/doctest.h>
#include <hiredis/hiredis.h>

#include "store/key_space.h"
#include "store/redis_codec.h"
#include "unit/redis/resp.h"

using rl::test::parse_resp;
using namespace rl;
using store::Fields;

namespace {

// An HGETALL reply holding `fields` (alternating names and values).
redis::ReplyPtr hash(const std::vector<std::string>& fields) {
  std::string resp;
  resp.push_back('*');
  resp.append(std::to_string(fields.size())).append("\r\n");
  for (const auto& f : fields) {
    resp.push_back('$');
    resp.append(std::to_string(f.size())).append("\r\n").append(f).append("\r\n");
  }
  return parse_resp(resp);
}

}  // namespace

TEST_CASE("a tier round-trips through its hash fields") {
  policy::Tier t{"pro",
                 100,
                 150,
                 100,
                 core::Seconds{60},
                 limiter::Algorithm::token_bucket,
                 true,
                 policy::FailurePolicy::allow};
  auto reply = hash(store::tier_fields(t));
  auto fields = store::fields_of(*reply);
  REQUIRE(fields.ok());
  auto back = store::tier_from_fields("pro", *fields);
  REQUIRE(back.ok());
  CHECK(*back == t);
}

TEST_CASE("users, keys and the health state round-trip through their hash fields") {
  const auto at = core::from_unix_ms(1'700'000'000'123);
  store::UserRecord u{"alice@example", "free", at, true};
  auto user =
      store::user_from_fields("alice@example", *store::fields_of(*hash(store::user_fields(u))));
  REQUIRE(user.ok());
  CHECK(user->tier == "free");
  CHECK(user->disabled);
  CHECK(user->created_at == at);
  store::KeyRecord k{std::string(64, 'a'), "aaaaaaaaaaaaaaaa", "alice@example", "ci", at};
  auto key = store::key_from_fields(k.digest, *store::fields_of(*hash(store::key_fields(k))));
  REQUIRE(key.ok());
  CHECK(key->user == "alice@example");
  CHECK(key->label == "ci");
  store::HealthRecord h{policy::HealthState::degraded, "ops", "load", at, std::nullopt};
  auto health = store::health_from_fields(*store::fields_of(*hash(store::health_fields(h))), 5000,
                                          core::from_unix_ms(1'700'000'001'000));
  REQUIRE(health.ok());
  CHECK(health->state == policy::HealthState::degraded);
  CHECK(health->updated_by == "ops");
  REQUIRE(health->expires_at.has_value());
  CHECK(core::to_unix_ms(*health->expires_at) == 1'700'000'006'000);
}

TEST_CASE("an absent health hash is NORMAL") {
  auto h = store::health_from_fields(*store::fields_of(*hash({})), -2, core::WallTime{});
  REQUIRE(h.ok());
  CHECK(h->state == policy::HealthState::normal);
  CHECK_FALSE(h->expires_at.has_value());
}

// Found by the resp_reply fuzz harness: now + PTTL overflowed (undefined behaviour).
TEST_CASE("a health TTL beyond any clock expires far in the future, not in the past") {
  const auto now = core::from_unix_ms(1'700'000'001'000);
  auto h =
      store::health_from_fields(*store::fields_of(*hash({"status", "DEGRADED"})), INT64_MAX, now);
  REQUIRE(h.ok());
  REQUIRE(h->expires_at.has_value());
  CHECK(*h->expires_at == now + core::Millis{store::kMaxRedisMillis});
}

TEST_CASE("milliseconds from Redis are bounded and keep their sign") {
  CHECK(store::bounded_millis(1500) == 1500);
  CHECK(store::bounded_millis(-2) == -2);
  CHECK(store::bounded_millis(INT64_MAX) == store::kMaxRedisMillis);
  CHECK(store::bounded_millis(INT64_MIN) == -store::kMaxRedisMillis);
}

TEST_CASE("malformed hashes are errors that name the record and the field") {
  auto tier = store::tier_from_fields(
      "free", *store::fields_of(*hash({"base_limit", "ten", "burst_limit", "20", "degraded_limit",
                                       "2", "window_seconds", "60"})));
  REQUIRE_FALSE(tier.ok());
  CHECK(tier.error().message == "malformed tier 'free': field base_limit");
  auto bad_window = store::tier_from_fields(
      "free", *store::fields_of(*hash({"base_limit", "10", "burst_limit", "20", "degraded_limit",
                                       "2", "window_seconds", "0"})));
  REQUIRE_FALSE(bad_window.ok());
  auto user = store::user_from_fields("u", *store::fields_of(*hash({"tier", "No Such"})));
  REQUIRE_FALSE(user.ok());
  CHECK(user.error().message == "malformed user 'u': field tier");
  auto odd = store::fields_of(*parse_resp("*1\r\n$1\r\nx\r\n"));
  CHECK_FALSE(odd.ok());
  auto not_hash = store::fields_of(*parse_resp("+OK\r\n"));
  CHECK_FALSE(not_hash.ok());
}

TEST_CASE("key names follow the data model, with hash tags on per-user and per-client keys") {
  store::KeySpace k("rl:");
  CHECK(k.schema() == "rl:schema");
  CHECK(k.tier("free") == "rl:tier:free");
  CHECK(k.user("u1") == "rl:user:u1");
  CHECK(k.user_keys("u1") == "rl:keys:{u1}");
  CHECK(k.api_key("ab") == "rl:apikey:ab");
  CHECK(k.attempts("1.2.3.4") == "rl:bad:{1.2.3.4}");
  CHECK(k.block("2001:db8::/64") == "rl:block:{2001:db8::/64}");
  CHECK(k.client_of_block("rl:block:{1.2.3.4}") == "1.2.3.4");
  CHECK(k.client_of_block("rl:bad:{1.2.3.4}").empty());
  std::string counter;
  k.counter(counter, "u1", limiter::Algorithm::sliding_window, core::Seconds{60});
  CHECK(counter == "rl:c:{u1}:sw:60");
  k.counter(counter, "u1", limiter::Algorithm::token_bucket, core::Seconds{3600});
  CHECK(counter == "rl:c:{u1}:tb:3600");
  CHECK(store::KeySpace("app1:").health() == "app1:health");
}

TEST_CASE("event messages round-trip and garbage is ignored") {
  using store::EventKind;
  for (auto [kind, subject] : {std::pair{EventKind::user, "u1"},
                               {EventKind::key, "abc"},
                               {EventKind::tier, "free"},
                               {EventKind::block, "1.2.3.4"}}) {
    const std::string message = store::event_message(kind, subject);
    const auto e = store::parse_event(message);  // views into `message`
    REQUIRE(e.has_value());
    CHECK(e->kind == kind);
    CHECK(e->subject == subject);
  }
  CHECK(store::parse_event("health")->kind == EventKind::health);
  CHECK_FALSE(store::parse_event("user:").has_value());
  CHECK_FALSE(store::parse_event("nonsense").has_value());
  CHECK_FALSE(store::parse_event("planet:earth").has_value());
}

TEST_CASE("commands are encoded in RESP exactly as hiredis encodes them") {
  std::string out;
  const std::string_view args[] = {"SET", "k", std::string_view("a\r\nb", 4)};
  redis::append_command(out, args);
  CHECK(out == "*3\r\n$3\r\nSET\r\n$1\r\nk\r\n$4\r\na\r\nb\r\n");

  // Against hiredis' own encoder: empty, binary, long arguments, and many of them.
  const std::string binary("\0\xff$*\r", 5);
  const std::string long_text(100000, 'x');
  std::vector<std::string_view> many{"EVALSHA", "0123456789abcdef", "1", "rl:c:{u}:60", "",
                                     binary,    long_text};
  for (int i = 0; i < 40; ++i)
    many.emplace_back("arg");
  std::vector<const char*> argv;
  std::vector<std::size_t> lens;
  for (const auto a : many) {
    argv.push_back(a.data());
    lens.push_back(a.size());
  }
  char* expected = nullptr;
  const int len =
      redisFormatCommandArgv(&expected, static_cast<int>(many.size()), argv.data(), lens.data());
  REQUIRE(len > 0);
  std::string ours = "prefix:";  // appends, keeping what is there
  redis::append_command(ours, many);
  CHECK(ours == "prefix:" + std::string(expected, static_cast<std::size_t>(len)));
  redisFreeCommand(expected);
}
